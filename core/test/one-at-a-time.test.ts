import { test } from "node:test";
import assert from "node:assert/strict";
import { oneAtATime } from "../one-at-a-time.js";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("calls made together run one at a time, in the order they were made", async () => {
  let running = 0;
  let mostAtOnce = 0;
  const order: string[] = [];
  const report = oneAtATime(async (name: string, ms: number) => {
    running++;
    mostAtOnce = Math.max(mostAtOnce, running);
    order.push(`start ${name}`);
    await tick(ms);
    order.push(`end ${name}`);
    running--;
    return name;
  });
  // The first is the slowest: run concurrently, it would end last.
  const results = await Promise.all([report("heartbeat", 30), report("progress", 1), report("complete", 5)]);
  assert.deepEqual(results, ["heartbeat", "progress", "complete"]);
  assert.equal(mostAtOnce, 1);
  assert.deepEqual(order, ["start heartbeat", "end heartbeat", "start progress", "end progress", "start complete", "end complete"]);
});

test("a call that fails rejects its own caller and the next call still runs", async () => {
  const send = oneAtATime(async (fail: boolean) => {
    await tick(1);
    if (fail) throw new Error("tracker down");
    return "sent";
  });
  const [first, second] = await Promise.allSettled([send(true), send(false)]);
  assert.equal(first.status, "rejected");
  assert.deepEqual(second, { status: "fulfilled", value: "sent" });
});
