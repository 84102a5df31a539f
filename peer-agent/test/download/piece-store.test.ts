import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bitfield } from "../../../core/bitfield.js";
import { AGENT } from "../../src/config.js";
import { PieceStore, PieceWorkers, type PieceOutcome } from "../../src/download/piece-store.js";

const dir = await mkdtemp(join(tmpdir(), "piece-store-"));
after(() => rm(dir, { recursive: true, force: true }));

const PIECE = 512 * 1024;
const PIECES = 96;

test("a piece that fills the gap at the start of the whole-file hash is answered before the pieces written ahead of it are read back", async () => {
  const data = randomFillSync(Buffer.allocUnsafe(PIECE * PIECES));
  const path = join(dir, "part.bin");
  await writeFile(path, Buffer.alloc(0));
  const pieceHashes = Array.from({ length: PIECES }, (_, i) => sha1(data.subarray(i * PIECE, (i + 1) * PIECE)));
  const outcomes: ((outcome: PieceOutcome) => void)[] = [];
  const store = new PieceStore(
    { path, size: data.length, pieceSize: PIECE, pieceHashes, have: new Bitfield(PIECES), slots: 1 },
    (outcome) => outcomes.shift()!(outcome),
    (error) => assert.fail(error),
  );
  const [slot] = store.buffers;
  const put = (piece: number) =>
    new Promise<PieceOutcome>((resolve) => {
      outcomes.push(resolve);
      slot!.fill(data.subarray(piece * PIECE, (piece + 1) * PIECE));
      store.submit(piece, slot!, PIECE, false);
    });
  try {
    // A swarm's random order: every piece but the first is written ahead of the hashed prefix.
    for (let piece = 1; piece < PIECES; piece++) assert.deepEqual(await put(piece), { piece, ok: true });
    let started = performance.now();
    assert.deepEqual(await put(0), { piece: 0, ok: true });
    const answerMs = performance.now() - started;
    started = performance.now();
    assert.equal(await store.digest(), sha1(data));
    const restMs = performance.now() - started;
    // Reading back and hashing 47.5 MiB takes far longer than writing one piece: the first piece's
    // answer came before that work, which was left to the worker's spare turns and the digest.
    assert.ok(answerMs < restMs, `piece 0 was answered after ${answerMs.toFixed(1)} ms, the rest of the digest took ${restMs.toFixed(1)} ms`);
  } finally {
    await store.close();
  }
});

const MEMORY_BYTES = AGENT.MAX_PIECE_BUFFERS * PIECE;

test("the spare worker has every page of the next download's piece memory in place before the download takes it", async (t) => {
  if (process.platform !== "linux") return t.diagnostic("resident size is read from /proc/self/status: Linux only");
  const workers = new PieceWorkers();
  try {
    await workers.warm();
    const prepared = workers.takeMemory(MEMORY_BYTES);
    assert.equal(prepared.byteLength, MEMORY_BYTES);
    // Writing into pages already in place does not grow the process; into fresh memory, by all of it.
    const grownByPrepared = residentGrowthWhileWriting(prepared);
    const grownByFresh = residentGrowthWhileWriting(new SharedArrayBuffer(MEMORY_BYTES));
    assert.ok(grownByFresh >= MEMORY_BYTES / 2, `fresh memory grew the process by ${grownByFresh} bytes`);
    assert.ok(grownByPrepared < MEMORY_BYTES / 8, `the prepared memory grew the process by ${grownByPrepared} bytes`);
  } finally {
    await workers.close();
  }
});

test("a closed store gives its piece memory back, and the next store works in the same memory", async () => {
  const data = randomFillSync(Buffer.allocUnsafe(PIECE));
  const path = join(dir, "reuse.bin");
  await writeFile(path, Buffer.alloc(0));
  const workers = new PieceWorkers();
  await workers.warm();
  const prepared = workers.takeMemory(MEMORY_BYTES);
  workers.giveBack(prepared);
  const openStore = () =>
    new PieceStore(
      { path, size: PIECE, pieceSize: PIECE, pieceHashes: [sha1(data)], have: new Bitfield(1), slots: AGENT.MAX_PIECE_BUFFERS, workers },
      () => {},
      (error) => assert.fail(error),
    );
  try {
    for (let download = 0; download < 2; download++) {
      const store = openStore();
      const memory = store.buffers[0]!.buffer;
      await store.close();
      assert.equal(memory, prepared, `download ${download} worked in the prepared memory`);
    }
    assert.equal(workers.takeMemory(MEMORY_BYTES), prepared);
  } finally {
    await workers.close();
  }
});

/** How much this process's resident size grows while one byte of every page of `memory` is written. */
function residentGrowthWhileWriting(memory: SharedArrayBuffer): number {
  const resident = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
  const bytes = new Uint8Array(memory);
  const before = resident();
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 1;
  return resident() - before;
}

function sha1(bytes: Buffer): string {
  return createHash("sha1").update(bytes).digest("hex");
}
