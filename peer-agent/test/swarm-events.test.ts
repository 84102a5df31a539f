import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { exportJWK, generateKeyPair, type JSONWebKeySet } from "jose";
import { request } from "undici";
import { Bitfield } from "../../core/bitfield.js";
import { signGrant } from "../../core/grant.js";
import { EventStreamParser, type StreamEvent } from "../src/download/event-stream.js";
import { createGrantCheck } from "../src/grant-check.js";
import { createPeerServer } from "../src/http/server.js";
import { SwarmEvents } from "../src/http/swarm-events.js";
import { ServedRegistry } from "../src/served-registry.js";
import type { ServedFile } from "../src/http/served-file.js";
import { onDisk } from "./support/seeders.js";

const PIECE = 1024;
const PIECES = 8;
let dir: string;
let server: Server;
let base: string;
let events: SwarmEvents;
let registry: ServedRegistry;
let file: ServedFile;
let sha1: string;
let grantFor: (userId: string, ttlSeconds?: number) => Promise<string>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "swarm-events-"));
  const data = randomBytes(PIECE * PIECES);
  const path = join(dir, "shared.bin");
  await writeFile(path, data);
  sha1 = createHash("sha1").update(data).digest("hex");
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid: "t1", alg: "EdDSA" }] };
  grantFor = (userId, ttlSeconds) => signGrant({ userId, groupId: "team", sha1, fileName: "shared.bin" }, { privateKey, kid: "t1", issuer: "t1" }, ttlSeconds);
  events = new SwarmEvents({ maxPerFile: 60, maxBufferedBytes: 64 * 1024, keepAliveMs: 200 });
  registry = new ServedRegistry(events);
  const verified = new Bitfield(PIECES);
  for (const piece of [0, 1]) verified.set(piece);
  file = registry.add({
    userId: "alice",
    file: { groupId: "team", fileName: "shared.bin", size: data.length, sha1, pieceSize: PIECE, pieceHashes: Array(PIECES).fill("0".repeat(40)) },
    path,
    verified: verified.toBase64(),
    ...onDisk(path),
  });
  server = createPeerServer({ files: registry, events, checkGrant: createGrantCheck(async () => jwks) });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  events.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** A downloader watching the file: every event it got, and a way to wait for the next one that matches. */
async function watch(userId: string, address?: string, ttlSeconds?: number) {
  const headers: Record<string, string> = { authorization: `Bearer ${await grantFor(userId, ttlSeconds)}` };
  if (address) headers["p2p-peer-address"] = address;
  const controller = new AbortController();
  const response = await request(`${base}/groups/team/files/${sha1}/events`, { headers, signal: controller.signal });
  const seen: StreamEvent[] = [];
  const waiters: { match: (e: StreamEvent) => boolean; resolve: (e: StreamEvent) => void }[] = [];
  const parser = new EventStreamParser();
  let ended = false;
  const endWaiters: (() => void)[] = [];
  response.body.on("data", (chunk: Buffer) => {
    for (const event of parser.push(chunk)) {
      seen.push(event);
      for (const waiter of [...waiters]) {
        if (!waiter.match(event)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  const onEnd = () => {
    ended = true;
    endWaiters.forEach((done) => done());
  };
  response.body.on("end", onEnd);
  response.body.on("error", onEnd);
  response.body.on("close", onEnd);
  return {
    response,
    seen,
    next(match: (e: StreamEvent) => boolean, timeoutMs = 2000): Promise<StreamEvent> {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`)), timeoutMs);
        waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    ended: () => (ended ? Promise.resolve() : new Promise<void>((resolve) => endWaiters.push(resolve))),
    close: () => controller.abort(),
  };
}

const data = (event: StreamEvent) => JSON.parse(event.data) as Record<string, unknown>;

test("a watcher first gets the pieces held now as a bitfield event stream", async () => {
  const bob = await watch("bob");
  assert.equal(bob.response.statusCode, 200);
  assert.match(String(bob.response.headers["content-type"]), /^text\/event-stream/);
  const first = await bob.next(() => true);
  assert.equal(first.event, "bitfield");
  const bits = Bitfield.fromBase64(PIECES, String(data(first).bitfield));
  assert.deepEqual([0, 1, 2, 3].map((p) => bits.has(p)), [true, true, false, false]);
  bob.close();
});

test("a piece verified here reaches a watching downloader within 100 ms", async () => {
  const bob = await watch("bob");
  await bob.next((e) => e.event === "bitfield");
  const started = performance.now();
  registry.pieceVerified(file, 2);
  const have = await bob.next((e) => e.event === "have");
  const elapsed = performance.now() - started;
  assert.deepEqual(data(have).pieces, [2]);
  assert.ok(elapsed < 100, `the have event took ${elapsed.toFixed(1)} ms`);
  bob.close();
});

test("a watcher learns of the other downloaders watching the file, with the addresses they serve on, and they of it", async () => {
  const carol = await watch("carol", "127.0.0.1:7003");
  await carol.next((e) => e.event === "bitfield");
  const dave = await watch("dave", "127.0.0.1:7004");
  const toDave = await dave.next((e) => e.event === "peers");
  assert.deepEqual(data(toDave).peers, [{ userId: "carol", address: "127.0.0.1:7003" }]);
  const toCarol = await carol.next((e) => e.event === "peers");
  assert.deepEqual(data(toCarol).peers, [{ userId: "dave", address: "127.0.0.1:7004" }]);
  carol.close();
  dave.close();
});

test("a run being sent to one downloader is announced to the other watchers, not to the one receiving it", async () => {
  const erin = await watch("erin");
  const frank = await watch("frank");
  await erin.next((e) => e.event === "bitfield");
  await frank.next((e) => e.event === "bitfield");
  const bytes = await request(`${base}/groups/team/files/${sha1}`, {
    headers: { authorization: `Bearer ${await grantFor("erin")}`, range: `bytes=0-${2 * PIECE - 1}` },
  });
  assert.equal(bytes.statusCode, 206);
  await bytes.body.arrayBuffer();
  const sending = await frank.next((e) => e.event === "sending");
  assert.deepEqual(data(sending).runs, [[0, 1]]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(erin.seen.filter((e) => e.event === "sending").length, 0);
  erin.close();
  frank.close();
});

test("many pieces verified at once reach each watcher as one event, so fifty watchers cost fifty writes", async () => {
  const watchers = await Promise.all(Array.from({ length: 50 }, (_, i) => watch(`w${i}`)));
  await Promise.all(watchers.map((w) => w.next((e) => e.event === "bitfield")));
  for (const piece of [3, 4, 5, 6, 7]) registry.pieceVerified(file, piece);
  const haves = await Promise.all(watchers.map((w) => w.next((e) => e.event === "have")));
  for (const have of haves) assert.deepEqual(data(have).pieces, [3, 4, 5, 6, 7]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const w of watchers) assert.equal(w.seen.filter((e) => e.event === "have").length, 1);
  watchers.forEach((w) => w.close());
});

test("news that follows close behind the last goes out with the next batch, so a busy agent writes each watcher a few dozen times a second, not once per piece", async () => {
  const gina = await watch("gina");
  await gina.next((e) => e.event === "bitfield");
  const pieces = (e: StreamEvent) => (e.event === "have" ? (data(e).pieces as number[]) : []);
  events.have("team", sha1, 2);
  await gina.next((e) => pieces(e).includes(2));
  // Three pieces verified in three turns of the event loop, right after the last news.
  for (const piece of [3, 4, 5]) {
    events.have("team", sha1, piece);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const batch = await gina.next((e) => pieces(e).includes(3));
  assert.deepEqual(pieces(batch), [3, 4, 5]);
  gina.close();
});

test("past the watcher limit of a file the agent answers 429 with Retry-After", async () => {
  const watchers = await Promise.all(Array.from({ length: 60 }, (_, i) => watch(`many${i}`)));
  await Promise.all(watchers.map((w) => w.next((e) => e.event === "bitfield")));
  const refused = await request(`${base}/groups/team/files/${sha1}/events`, { headers: { authorization: `Bearer ${await grantFor("late")}` } });
  assert.equal(refused.statusCode, 429);
  assert.ok(Number(refused.headers["retry-after"]) > 0);
  assert.match(String(refused.headers["content-type"]), /problem\+json/);
  await refused.body.dump();
  watchers.forEach((w) => w.close());
});

test("a second watch by the same downloader replaces the first", async () => {
  const first = await watch("gina");
  await first.next((e) => e.event === "bitfield");
  const second = await watch("gina");
  await second.next((e) => e.event === "bitfield");
  await first.ended();
  assert.equal(events.watching >= 1, true);
  second.close();
});

test("a watcher that does not read is dropped instead of buffering without end", async () => {
  const slow = await watch("slow");
  await slow.next((e) => e.event === "bitfield");
  slow.response.body.pause();
  const watchers = events.watching;
  // Events of ~6 KB each: once the socket buffers are full, the agent's own limit (64 KiB here) is reached.
  for (let round = 0; round < 5000 && events.watching === watchers; round++) {
    for (let run = 0; run < 500; run++) events.sending("team", sha1, 0, PIECES - 1, "someone-else");
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(events.watching, watchers - 1, "the slow watcher is still watched");
  slow.close();
});

test("when the file stops being served its watchers' streams end", async () => {
  const hana = await watch("hana");
  await hana.next((e) => e.event === "bitfield");
  events.closeFile("team", sha1);
  await hana.ended();
});

test("a watcher's stream ends when its grant expires, so a member removed from the group stops hearing about the file", async () => {
  // 2 s: the first use of a grant waits for the tracker's verdict, which under a loaded test run can take most of a second.
  const ivan = await watch("ivan", undefined, 2);
  assert.equal(ivan.response.statusCode, 200);
  await ivan.next((e) => e.event === "bitfield");
  const started = performance.now();
  await ivan.ended();
  const lasted = performance.now() - started;
  assert.ok(lasted < 3500, `the stream lasted ${lasted.toFixed(0)} ms past a 2 s grant`);
});

test("watching needs a grant for the file", async () => {
  const response = await request(`${base}/groups/team/files/${sha1}/events`);
  assert.equal(response.statusCode, 401);
  await response.body.dump();
});
