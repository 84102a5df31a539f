import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { Bitfield } from "../../core/bitfield.js";
import { createPeerServer } from "../src/http/server.js";
import type { ServedFile } from "../src/http/served-file.js";
import { UploadSlots, type UploadSlot } from "../src/http/upload-slots.js";
import { slowLink } from "./support/slow-link.js";


/** Asks for a slot; tells whether it was granted yet, and how to release or give up. */
function ask(slots: UploadSlots, requester: string) {
  let slot: UploadSlot | undefined;
  let cancel: (() => void) | undefined;
  const state = { granted: false, refused: undefined as unknown };
  const done = slots
    .acquire(requester, (onCancel) => (cancel = onCancel))
    .then((granted) => {
      slot = granted;
      state.granted = granted !== undefined;
    })
    .catch((error: unknown) => (state.refused = error));
  return { state, done, release: () => slot?.release(), cancel: () => cancel?.(), mayPump: () => slot?.mayPump() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("a requester alone gets several streams at once", async () => {
  const slots = new UploadSlots({ maxStreamsPerRequester: 3 });
  const asks = [ask(slots, "bob"), ask(slots, "bob"), ask(slots, "bob"), ask(slots, "bob")];
  await settle();
  assert.deepEqual(asks.map((a) => a.state.granted), [true, true, true, false]);
});

test("a newcomer is served at once while a greedy requester holds many streams, and the greedy one then waits for its turn", async () => {
  const slots = new UploadSlots({ maxStreamsPerRequester: 6 });
  const greedy = Array.from({ length: 8 }, () => ask(slots, "greedy"));
  await settle();
  assert.equal(greedy.filter((a) => a.state.granted).length, 6);
  const polite = ask(slots, "polite");
  await settle();
  assert.equal(polite.state.granted, true);
  // The streams greedy started while alone are held between chunks, all but its oldest.
  assert.equal(greedy[0]!.mayPump(), undefined);
  assert.ok(greedy.slice(1, 6).every((a) => a.mayPump() instanceof Promise));
  assert.equal(polite.mayPump(), undefined);
  // While polite streams, greedy is held to one stream: its freed slots do not go to its queue.
  for (const a of greedy.slice(0, 5)) a.release();
  await settle();
  assert.equal(slots.active, 2, "greedy is down to one stream, polite has one");
  assert.equal(greedy.slice(6).filter((a) => a.state.granted).length, 0);
  polite.release();
  await settle();
  assert.equal(greedy.slice(6).filter((a) => a.state.granted).length, 2, "alone again, greedy gets its streams back");
});

test("a freed slot goes to the waiting requester with the fewest streams", async () => {
  const slots = new UploadSlots({ maxStreams: 2 });
  const a1 = ask(slots, "a");
  const b1 = ask(slots, "b");
  await settle();
  const a2 = ask(slots, "a"); // a waits: it already has a stream
  const c1 = ask(slots, "c"); // c waits: every slot is taken
  await settle();
  assert.deepEqual([a1.state.granted, b1.state.granted, a2.state.granted, c1.state.granted], [true, true, false, false]);
  b1.release();
  await settle();
  assert.equal(c1.state.granted, true, "c had no stream, a had one");
  assert.equal(a2.state.granted, false);
});

test("past the queue bounds a request is refused with PEER_BUSY", async () => {
  const slots = new UploadSlots({ maxStreamsPerRequester: 1, maxQueuedPerRequester: 1 });
  ask(slots, "greedy");
  ask(slots, "greedy");
  const third = ask(slots, "greedy");
  await third.done;
  assert.equal((third.state.refused as { code?: string }).code, "PEER_BUSY");
});

test("a request that gives up while waiting leaves the queue", async () => {
  const slots = new UploadSlots({ maxStreamsPerRequester: 1 });
  const first = ask(slots, "bob");
  const second = ask(slots, "bob");
  await settle();
  second.cancel();
  await second.done;
  assert.equal(second.state.granted, false);
  assert.equal(slots.queued, 0);
  first.release();
  await settle();
  assert.equal(slots.active, 0);
});

test("through a capped uplink a downloader with six requests soon gets no more bytes than one with a single request", async () => {
  const dir = await mkdtemp(join(tmpdir(), "fair-upload-"));
  const big = randomBytes(32 * 1024 * 1024);
  const path = join(dir, "big.bin");
  await writeFile(path, big);
  const file: ServedFile = { groupId: "team", sha1: "e".repeat(40), size: big.length, pieceSize: 512 * 1024, path, verified: Bitfield.full(64) };
  const server = createPeerServer({ files: { find: () => file }, checkGrant: async (token) => token ?? "nobody" });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const link = await slowLink(`127.0.0.1:${(server.address() as AddressInfo).port}`, 8_000_000);
  const received = new Map<string, number>();
  const controller = new AbortController();
  const fetchAll = async (requester: string) => {
    const response = await request(`http://${link.address}/groups/team/files/${file.sha1}`, {
      headers: { authorization: `Bearer ${requester}`, range: `bytes=0-${big.length - 1}` },
      signal: controller.signal,
    });
    for await (const chunk of response.body) received.set(requester, (received.get(requester) ?? 0) + (chunk as Buffer).length);
  };
  const running = [...Array.from({ length: 6 }, () => fetchAll("greedy")), fetchAll("polite")].map((p) => p.catch(() => undefined));
  try {
    // What greedy's six streams had written into their sockets before polite came goes out first;
    // what counts is the share once that is through.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const before = { greedy: received.get("greedy") ?? 0, polite: received.get("polite") ?? 0 };
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const greedy = (received.get("greedy") ?? 0) - before.greedy;
    const polite = (received.get("polite") ?? 0) - before.polite;
    assert.ok(polite > 2_000_000, `polite got only ${polite} bytes in 1.5 s`);
    assert.ok(greedy < polite * 1.5, `greedy got ${greedy} bytes, polite ${polite} in the same 1.5 s`);
  } finally {
    controller.abort();
    await Promise.all(running);
    await link.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});

test("a request given up while its grant is checked holds no upload slot afterwards", async () => {
  const dir = await mkdtemp(join(tmpdir(), "slot-leak-"));
  const bytes = randomBytes(1024 * 1024);
  const path = join(dir, "file.bin");
  await writeFile(path, bytes);
  const file: ServedFile = { groupId: "team", sha1: "e".repeat(40), size: bytes.length, pieceSize: 512 * 1024, path, verified: Bitfield.full(2) };
  let checks = 0;
  const server = createPeerServer({
    files: { find: () => file },
    checkGrant: async (token) => token ?? "nobody",
    // The first grant takes a while to check (the tracker is asked); the requester gives up meanwhile.
    grantStands: async () => {
      if (checks++ === 0) await new Promise((resolve) => setTimeout(resolve, 300));
    },
    uploadSlots: { maxStreams: 1 },
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/groups/team/files/${file.sha1}`;
  try {
    const givenUp = request(url, { headers: { authorization: "Bearer alice", range: "bytes=0-1023" }, signal: AbortSignal.timeout(100) });
    await assert.rejects(givenUp);
    await new Promise((resolve) => setTimeout(resolve, 400)); // the check ends after the requester left
    const next = await request(url, { headers: { authorization: "Bearer bob", range: "bytes=0-1023" }, headersTimeout: 2000 });
    assert.equal(next.statusCode, 206);
    assert.ok(Buffer.from(await next.body.arrayBuffer()).equals(bytes.subarray(0, 1024)));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});
