/**
 * A tracker that recovers its data (new database, pulling back what the
 * others have) answers no client request from its still-empty database: a
 * login there would say "wrong password" (and count toward the login
 * throttle, locking the account out after the recovery), a valid token
 * "session invalid" (the client drops it), a group "not found". It answers
 * 503 TRACKER_RECOVERING instead, so the tracker client fails over.
 * Found by the nemesis (seed 3): after a wipe, every client's logins were
 * refused as bad credentials, then throttled. Real tracker processes.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { call, Cluster, converged, createUser, health, login, waitUntil } from "./cluster.js";

let cluster: Cluster;

before(async () => {
  cluster = await Cluster.start(2);
});

after(async () => {
  await cluster.stop();
});

test("a recovering tracker refuses logins, sessions and reads with 503 instead of answering from its empty database, and the account is not throttled after", async () => {
  const one = cluster.tracker(1).url;
  assert.equal((await createUser(one, "alice", "right-password")).status, 201);
  const token = await login(one, "alice", "right-password");
  assert.equal((await call(one, "POST", "/groups", { token, body: { groupId: "kept" } })).status, 201);
  await converged(cluster);

  await cluster.kill(1);
  await rm(cluster.dataDir(1), { recursive: true, force: true });
  // Tracker 2 frozen: tracker 1 stays recovering.
  cluster.freeze(2);
  await cluster.startTracker(1, { waitRecovered: false });
  assert.equal((await health(one)).status, "recovering");

  // More tries than the login throttle allows.
  for (let i = 0; i < 7; i++) {
    const refused = await call(one, "POST", "/sessions", { body: { userId: "alice", password: "right-password", peerAddress: "127.0.0.1:7001" } });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, "TRACKER_RECOVERING");
    assert.ok(Number(refused.headers?.["retry-after"]) > 0);
  }
  for (const [method, path] of [["GET", "/sessions/current"], ["GET", "/groups"], ["GET", "/groups/kept/members"]] as const) {
    const refused = await call(one, method, path, { token });
    assert.equal(refused.status, 503, `${method} ${path}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.code, "TRACKER_RECOVERING");
  }
  // What a tracker needs to be told apart stays open: its health and its grant keys.
  assert.equal((await call(one, "GET", "/.well-known/jwks.json")).status, 200);

  cluster.thaw(2);
  await waitUntil(async () => (await health(one)).status === "ok", 30_000, "tracker 1 recovered");
  // The refused tries did not count as failed logins.
  await login(one, "alice", "right-password");
  assert.equal((await call(one, "GET", "/sessions/current", { token })).status, 200);
});
