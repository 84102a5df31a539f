/**
 * A grant stops opening ranges within 5 s once its holder leaves the group,
 * is removed by the owner, logs out or has their password changed: real
 * tracker processes (two, the revocation made on tracker 1) and real agent
 * processes (the seeder's agent talking to tracker 2 only).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { request } from "undici";
import type { RemotePeerNode } from "../src/control/client.js";
import { AgentProcesses } from "./support/agent-processes.js";
import { call, Cluster, createUser, login, waitUntil } from "../../tracker-api/test/replication/cluster.js";

const REVOKED_WITHIN_MS = 5000;
const FILE = "data.bin";
const GROUP = "club";

let cluster: Cluster;
let t1: string;
let agents: AgentProcesses;
let seeder: { address: string; api: RemotePeerNode };
let ownerToken: string;
let sha1: string;
let data: Buffer;

/** An agent whose preferred tracker is `trackerUrls[0]` (it knows them all: grants from any verify). */
async function startAgent(name: string, trackerUrls: string[]): Promise<{ address: string; api: RemotePeerNode }> {
  const info = join(cluster.dir, `info-${name}.txt`);
  await writeFile(info, trackerUrls.map((url) => `${url.replace("http://", "")}\n`).join(""));
  return agents.start(name, info, ["--plain-http"]);
}

/** Retries a call answered on another tracker until what it needs has replicated there. */
async function eventually<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

before(async () => {
  cluster = await Cluster.start(2, { startTimeoutMs: 120_000 });
  agents = new AgentProcesses(cluster.dir);
  t1 = cluster.tracker(1).url;
  seeder = await startAgent("alice", [cluster.tracker(2).url, t1]);
  await seeder.api.createUser("alice", "pw");
  await seeder.api.login("alice", "pw");
  ownerToken = await eventually(() => login(t1, "alice"));
  assert.equal((await call(t1, "POST", "/groups", { token: ownerToken, body: { groupId: GROUP } })).status, 201);
  data = randomBytes(2 * 1024 * 1024);
  sha1 = createHash("sha1").update(data).digest("hex");
  const path = join(cluster.dir, FILE);
  await writeFile(path, data);
  await eventually(() => seeder.api.uploadFile(path, GROUP));
});

after(async () => {
  await agents?.stopAll();
  await cluster.stop();
});

/** A member of the group, logged in on tracker 1, holding a grant for the file. */
async function member(userId: string): Promise<{ token: string; grant: string }> {
  assert.equal((await createUser(t1, userId)).status, 201);
  const token = await login(t1, userId);
  assert.equal((await call(t1, "POST", `/groups/${GROUP}/join-requests`, { token })).status, 201);
  assert.equal((await call(t1, "POST", `/groups/${GROUP}/join-requests/${userId}/accept`, { token: ownerToken })).status, 200);
  const grant = await grantOf(token);
  // Tracker 2, which the seeder's agent asks, knows the member before the test goes on.
  await waitUntil(async () => (await range(grant)) === 206, 10_000, "a first range").catch(async (error) => {
    const response = await request(`http://${seeder.address}/groups/${GROUP}/files/${sha1}`, { headers: { authorization: `Bearer ${grant}`, range: "bytes=0-1023" } });
    throw new Error(`${(error as Error).message}: ${response.statusCode} ${await response.body.text()}`);
  });
  return { token, grant };
}

async function grantOf(token: string): Promise<string> {
  let grant = "";
  await waitUntil(async () => {
    const answer = await call(t1, "GET", `/groups/${GROUP}/files/${FILE}/peers`, { token });
    grant = answer.body?.grant ?? "";
    return answer.status === 200 && answer.body.peers.some((p: { address: string }) => p.address === seeder.address);
  }, 15_000, "the seeder listed on tracker 1");
  return grant;
}

async function range(grant: string): Promise<number> {
  const response = await request(`http://${seeder.address}/groups/${GROUP}/files/${sha1}`, {
    headers: { authorization: `Bearer ${grant}`, range: "bytes=0-1023" },
  });
  await response.body.dump();
  return response.statusCode;
}

/** Ranges keep being asked for with the old grant until one is refused; returns how long that took. */
async function refusedAfter(revoke: () => Promise<void>, grant: string): Promise<number> {
  await revoke();
  const start = Date.now();
  let status = 206;
  while (status === 206 && Date.now() - start < REVOKED_WITHIN_MS + 2000) {
    status = await range(grant);
    if (status === 206) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const elapsed = Date.now() - start;
  assert.equal(status, 403, "the old grant is refused");
  return elapsed;
}

test("a member who leaves on tracker 1 is refused ranges by an agent of tracker 2 within 5 s", async () => {
  const bob = await member("bob-leaves");
  const elapsed = await refusedAfter(async () => {
    assert.equal((await call(t1, "DELETE", `/groups/${GROUP}/members/bob-leaves`, { token: bob.token })).status, 204);
  }, bob.grant);
  console.log(`# refused ${elapsed} ms after the leave`);
  assert.ok(elapsed < REVOKED_WITHIN_MS, `refused after ${elapsed} ms`);
});

test("a member removed by the owner is refused ranges within 5 s", async () => {
  const bob = await member("bob-removed");
  const elapsed = await refusedAfter(async () => {
    assert.equal((await call(t1, "DELETE", `/groups/${GROUP}/members/bob-removed`, { token: ownerToken })).status, 204);
  }, bob.grant);
  console.log(`# refused ${elapsed} ms after the removal`);
  assert.ok(elapsed < REVOKED_WITHIN_MS, `refused after ${elapsed} ms`);
});

test("a grant of a session that logged out is refused within 5 s", async () => {
  const bob = await member("bob-logs-out");
  const elapsed = await refusedAfter(async () => {
    assert.equal((await call(t1, "DELETE", "/sessions/current", { token: bob.token })).status, 204);
  }, bob.grant);
  console.log(`# refused ${elapsed} ms after the logout`);
  assert.ok(elapsed < REVOKED_WITHIN_MS, `refused after ${elapsed} ms`);
});

test("a grant of another session is refused within 5 s once the password changes", async () => {
  const thief = await member("bob-robbed");
  const owner = await login(t1, "bob-robbed");
  const elapsed = await refusedAfter(async () => {
    const answer = await call(t1, "PUT", "/users/me/password", { token: owner, body: { currentPassword: "pw", newPassword: "new pw" } });
    assert.equal(answer.status, 204);
  }, thief.grant);
  console.log(`# refused ${elapsed} ms after the password change`);
  assert.ok(elapsed < REVOKED_WITHIN_MS, `refused after ${elapsed} ms`);
  // The session that changed it still gets grants that work.
  assert.equal(await range(await grantOf(owner)), 206);
});

test("a download slower than several grant rechecks completes without a refusal", async () => {
  const carol = await startAgent("carol", [t1, cluster.tracker(2).url]);
  await carol.api.createUser("carol", "pw");
  await carol.api.login("carol", "pw");
  await carol.api.joinGroup(GROUP);
  assert.equal((await call(t1, "POST", `/groups/${GROUP}/join-requests/carol/accept`, { token: ownerToken })).status, 200);
  // 8 MiB at 1 MiB/s: about 8 s, four rounds of rechecks by the seeder's agent.
  const long = randomBytes(8 * 1024 * 1024);
  await writeFile(join(cluster.dir, "long.bin"), long);
  await seeder.api.uploadFile(join(cluster.dir, "long.bin"), GROUP);
  await seeder.api.setRate("up", "1M");
  try {
    const destination = join(cluster.dir, "carol-downloads");
    await mkdir(destination);
    const started = Date.now();
    const info = await eventually(() => carol.api.downloadFile(GROUP, "long.bin", destination));
    const done = await Promise.race([
      carol.api.waitForDownload(info.id),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the download did not end in 30 s")), 30_000).unref()),
    ]).catch(async (error) => {
      throw new Error(`${(error as Error).message}: ${JSON.stringify(await carol.api.listDownloads())}`);
    });
    assert.equal(done.state, "complete", JSON.stringify(done.error));
    assert.ok(Date.now() - started > 6000, "the download outlived several rechecks");
    assert.ok((await readFile(join(destination, "long.bin"))).equals(long));
  } finally {
    await seeder.api.setRate("up", "unlimited");
  }
});
