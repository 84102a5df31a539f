/**
 * The login throttle with real tracker processes (two, sharing their counts
 * over the replication link), clients on distinct loopback addresses
 * (127.0.0.x: each is another address to the tracker).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Agent, request } from "undici";
import { Cluster, createUser, waitUntil } from "./replication/cluster.js";

let cluster: Cluster;
let t1: string;
let t2: string;
const agents = new Map<string, Agent>();

before(async () => {
  cluster = await Cluster.start(2, { startTimeoutMs: 120_000 });
  t1 = cluster.tracker(1).url;
  t2 = cluster.tracker(2).url;
});
after(async () => {
  for (const agent of agents.values()) await agent.close();
  await cluster.stop();
});

/** A login attempt from `address`; the status it got. */
async function login(base: string, address: string, userId: string, password: string): Promise<number> {
  let agent = agents.get(address);
  if (!agent) agents.set(address, (agent = new Agent({ localAddress: address })));
  const response = await request(`${base}/sessions`, {
    method: "POST",
    dispatcher: agent,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId, password, peerAddress: "127.0.0.1:7001" }),
  });
  await response.body.dump();
  return response.statusCode;
}

test("the owner's right password from an address they logged in from before works while a stranger's failures lock the account", async () => {
  assert.equal((await createUser(t1, "bob")).status, 201);
  assert.equal(await login(t1, "127.0.0.2", "bob", "pw"), 201);
  for (let i = 0; i < 5; i++) assert.equal(await login(t1, "127.0.0.3", "bob", "guess"), 401);
  assert.equal(await login(t1, "127.0.0.3", "bob", "pw"), 429, "the stranger waits, even with the right password");
  assert.equal(await login(t1, "127.0.0.2", "bob", "pw"), 201);
});

test("failures against different accounts from one address do not lock another user behind it", async () => {
  for (let i = 0; i < 10; i++) assert.equal((await createUser(t1, `nat${i}`)).status, 201);
  for (let i = 0; i < 9; i++) assert.equal(await login(t1, "127.0.0.4", `nat${i}`, "typo"), 401);
  assert.equal(await login(t1, "127.0.0.4", "nat9", "pw"), 201);
});

test("an address that clearly attacks is throttled for every account", async () => {
  assert.equal((await createUser(t1, "victim")).status, 201);
  for (let i = 0; i < 30; i++) assert.equal(await login(t1, "127.0.0.5", `nobody${i}`, "guess"), 401);
  assert.equal(await login(t1, "127.0.0.5", "victim", "pw"), 429);
});

test("an attacker who moves to tracker 2 finds the account already throttled there", async () => {
  assert.equal((await createUser(t1, "dave")).status, 201);
  await waitUntil(async () => (await login(t2, "127.0.0.6", "dave", "pw")) === 201, 15_000, "dave on tracker 2");
  for (let i = 0; i < 5; i++) assert.equal(await login(t1, "127.0.0.7", "dave", "guess"), 401);
  await waitUntil(async () => (await login(t2, "127.0.0.8", "dave", "guess")) === 429, 5000, "tracker 2 throttles dave");
});
