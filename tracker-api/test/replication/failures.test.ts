import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { call, Cluster, converged, createUser, login } from "./cluster.js";

let cluster: Cluster;

before(async () => {
  cluster = await Cluster.start(2);
});

after(async () => {
  await cluster.stop();
});

/** Every group id on that tracker, walking all pages. */
async function groupIds(base: string, token: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const answer = await call(base, "GET", `/groups?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, { token });
    assert.equal(answer.status, 200);
    for (const group of answer.body.items as { groupId: string }[]) ids.add(group.groupId);
    cursor = answer.body.nextCursor;
  } while (cursor);
  return ids;
}

test("after kill -9 in the middle of a burst, every acknowledged write is on the survivor, and on the killed tracker once it is back", async () => {
  const [one, two] = [cluster.tracker(1).url, cluster.tracker(2).url];
  await createUser(one, "dave");
  const token = await login(one, "dave");
  const acknowledged: string[] = [];
  let next = 0;
  const writer = async () => {
    for (;;) {
      const groupId = `burst-${next++}`;
      try {
        const answer = await call(one, "POST", "/groups", { token, body: { groupId } });
        if (answer.status === 201) acknowledged.push(groupId);
      } catch {
        return; // the tracker is gone
      }
    }
  };
  const writers = [writer(), writer(), writer(), writer()];
  while (acknowledged.length < 150) await new Promise((resolve) => setTimeout(resolve, 5));
  await cluster.kill(1);
  await Promise.all(writers);

  const onSurvivor = await groupIds(two, token);
  assert.deepEqual(acknowledged.filter((id) => !onSurvivor.has(id)), []);

  await cluster.startTracker(1);
  const onRestarted = await groupIds(one, token);
  assert.deepEqual(acknowledged.filter((id) => !onRestarted.has(id)), []);
  await converged(cluster);
});

test("a tracker that was down while hundreds of writes went to the other catches up to an equal digest", async () => {
  const [one, two] = [cluster.tracker(1).url, cluster.tracker(2).url];
  await createUser(one, "erin");
  const token = await login(one, "erin");
  await call(one, "POST", "/groups", { token, body: { groupId: "while-down" } });
  await cluster.kill(2);
  for (let i = 0; i < 300; i++) {
    const answer = await call(one, "POST", "/groups", { token, body: { groupId: `down-${i}` } });
    assert.equal(answer.status, 201);
  }
  const share = await call(one, "POST", "/groups/while-down/files", {
    token, body: { fileName: "a.bin", size: 3, sha1: "a".repeat(40), pieceSize: 524288, pieceHashes: ["b".repeat(40)] },
  });
  assert.equal(share.status, 201);
  assert.equal((await call(one, "GET", "/health")).body.peers[0].reachable, false);

  await cluster.startTracker(2);
  const digest = await converged(cluster);
  assert.equal((await call(two, "GET", "/health")).body.digest, digest);
  assert.equal((await groupIds(two, token)).size, (await groupIds(one, token)).size);
  const files = await call(two, "GET", "/groups/while-down/files", { token });
  assert.deepEqual(files.body.items.map((f: { fileName: string }) => f.fileName), ["a.bin"]);
});
