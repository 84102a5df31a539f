import { test } from "node:test";
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JSONWebKeySet } from "jose";
import { signGrant } from "../../core/grant.js";
import { createGrantCheck } from "../src/grant-check.js";

const file = { groupId: "movies", sha1: "a".repeat(40) };

async function trackerKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA" };
  const grant = (userId: string) => signGrant({ userId, ...file, fileName: "film.mkv" }, { privateKey, kid, issuer: kid });
  return { jwk, grant };
}

test("a grant from a tracker whose key was published after the agent started is accepted once the keys are fetched again", async () => {
  const first = await trackerKey("tracker-1");
  const later = await trackerKey("tracker-2");
  const published: JSONWebKeySet = { keys: [first.jwk] };
  let fetches = 0;
  const check = createGrantCheck(
    async () => {
      fetches++;
      return structuredClone(published);
    },
    { refetchAtMostEveryMs: 100 },
  );
  assert.equal(await check(await first.grant("dave"), file), "dave");
  published.keys.push(later.jwk);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(await check(await later.grant("erin"), file), "erin");
  assert.equal(fetches, 2);
});

test("grants signed by unknown keys cannot make the agent fetch keys on every request", async () => {
  const known = await trackerKey("tracker-1");
  const forger = await trackerKey("tracker-1-forged");
  let fetches = 0;
  const check = createGrantCheck(async () => {
    fetches++;
    return { keys: [known.jwk] };
  });
  await check(await known.grant("dave"), file);
  for (let i = 0; i < 20; i++) {
    await assert.rejects(check(await forger.grant("mallory"), file), { code: "GRANT_UNKNOWN_KEY" });
  }
  assert.equal(fetches, 1);
});

test("a request without a grant is refused before any key is fetched", async () => {
  let fetches = 0;
  const check = createGrantCheck(async () => {
    fetches++;
    return { keys: [] };
  });
  await assert.rejects(check(undefined, file), { status: 401, code: "GRANT_MISSING" });
  assert.equal(fetches, 0);
});

test("keys fetched ahead of time answer the first grant without waiting for a tracker", async () => {
  const tracker = await trackerKey("tracker-1");
  let fetches = 0;
  let answerFetch: (() => void) | undefined;
  const check = createGrantCheck(async () => {
    fetches++;
    // Every fetch after the prefetch hangs: a check that needs one never answers.
    if (fetches > 1) await new Promise<void>((resolve) => (answerFetch = resolve));
    return { keys: [tracker.jwk] };
  });
  await check.prefetch();
  assert.equal(fetches, 1, "prefetch fetched the keys");
  assert.equal(await check(await tracker.grant("dave"), file), "dave");
  assert.equal(fetches, 1);
  answerFetch?.();
});
