import { test } from "node:test";
import assert from "node:assert/strict";
import type { GrantInUse } from "../../core/api-types.js";
import { GrantStatus } from "../src/grant-status.js";

const grant: GrantInUse = { userId: "dave", groupId: "films", sessionId: "s1" };

/** A tracker that answers when told to, and counts the questions. */
function slowTracker(valid: boolean) {
  let answer: (() => void) | undefined;
  let questions = 0;
  const ask = async (grants: GrantInUse[]) => {
    questions++;
    await new Promise<void>((resolve) => (answer = resolve));
    return grants.map(() => valid);
  };
  return { ask, answer: () => answer?.(), questions: () => questions };
}

test("a grant signed moments ago is served at once while the tracker is asked, and refused once the tracker says it is revoked", async () => {
  const tracker = slowTracker(false);
  const status = new GrantStatus(tracker.ask, { recheckMs: 60_000 });
  try {
    assert.equal(await status.stands(grant, Date.now() - 500), true);
    while (tracker.questions() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(tracker.questions(), 1, "the tracker is asked in the background");
    tracker.answer();
    // Refused from the moment the answer is in (it takes an event-loop turn or two to land).
    const deadline = Date.now() + 2000;
    while ((await status.stands(grant, Date.now() - 500)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await status.stands(grant, Date.now() - 500), false);
  } finally {
    status.close();
  }
});

test("a grant signed longer ago than a verdict lasts, or ahead of this agent's clock, waits for the tracker", async () => {
  for (const issuedAtMs of [Date.now() - 60_000, Date.now() + 60_000]) {
    const tracker = slowTracker(true);
    const status = new GrantStatus(tracker.ask, { recheckMs: 60_000 });
    try {
      let settled = false;
      const answer = status.stands(grant, issuedAtMs).then((valid) => ((settled = true), valid));
      while (tracker.questions() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(settled, false, "it waits for the tracker's verdict");
      tracker.answer();
      assert.equal(await answer, true);
    } finally {
      status.close();
    }
  }
});
