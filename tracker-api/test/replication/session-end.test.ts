/**
 * A session belongs to an account, and its end is kept for good: a token
 * logged out on one tracker during a partition still works on the other until
 * the trackers meet, and after that it is dead everywhere, and what it created
 * after its logout is void. Real tracker processes, cut apart by the test switch.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { call, Cluster, converged, createUser, login, waitUntil } from "./cluster.js";

let cluster: Cluster;
let one: string;
let two: string;
let token: string;

before(async () => {
  cluster = await Cluster.start(2);
  one = cluster.tracker(1).url;
  two = cluster.tracker(2).url;
  await createUser(one, "carol");
  token = await login(one, "carol");
  assert.equal((await call(one, "POST", "/groups", { token, body: { groupId: "before-logout" } })).status, 201);
  await converged(cluster);

  await cluster.partition(true);
  assert.equal((await call(one, "DELETE", "/sessions/current", { token })).status, 204);
  assert.equal((await call(one, "GET", "/groups", { token })).status, 401);
  // Tracker 2 has not heard of the logout: the token works there, and makes a group after the logout.
  await waitUntil(async () => (await call(two, "GET", "/groups", { token })).status === 200, 5_000, "the token still working on 2");
  assert.equal((await call(two, "POST", "/groups", { token, body: { groupId: "ghostgroup" } })).status, 201);
  await cluster.partition(false);
  await converged(cluster, 30_000);
});

after(async () => {
  await cluster.stop();
});

test("a token logged out on one side during a partition is refused on every tracker after the heal", async () => {
  for (const base of [one, two]) {
    const answer = await call(base, "GET", "/groups", { token });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.code, "SESSION_INVALID");
  }
});

test("a group the token created after its logout is void after the heal, and one it created before stays", async () => {
  for (const base of [one, two]) {
    const fresh = await login(base, "carol");
    assert.equal((await call(base, "GET", "/groups/ghostgroup/members", { token: fresh })).status, 404);
    const groups = (await call(base, "GET", "/groups", { token: fresh })).body.items as { groupId: string }[];
    assert.deepEqual(groups.map((g) => g.groupId), ["before-logout"]);
  }
});
