import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomFillSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bitfield } from "../../../core/bitfield.js";
import { PieceStore, type PieceOutcome } from "../../src/download/piece-store.js";

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

function sha1(bytes: Buffer): string {
  return createHash("sha1").update(bytes).digest("hex");
}
