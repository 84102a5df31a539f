import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashFile, PIECE_SIZE } from "../../core/pieces.js";
import type { FileMetadata } from "../../core/api-types.js";
import { Download } from "../src/download/engine.js";
import { RateLimiter } from "../src/rate-limiter.js";
import { startSeeder } from "./support/seeders.js";

const dir = await mkdtemp(join(tmpdir(), "download-limit-"));
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await rm(dir, { recursive: true, force: true });
});

const LIMIT = 2 * 1024 * 1024;

async function sharedFile(name: string, bytes: number) {
  const path = join(dir, name);
  await writeFile(path, randomBytes(bytes));
  const file: FileMetadata = { groupId: "class", fileName: name, ...(await hashFile(path)) };
  const seeders = await Promise.all(["s1", "s2"].map((seeder) => startSeeder(seeder, file, path)));
  for (const seeder of seeders) closers.push(seeder.close);
  return { file, peers: seeders.map((seeder) => seeder.peer) };
}

test("an agent's download limit holds within 5 % over 10 s for all its downloads together, from any number of peers", async () => {
  // Two files downloaded at once from two unlimited seeders each: 10 s of the limit in all.
  const files = await Promise.all([sharedFile("a.bin", 20 * PIECE_SIZE), sharedFile("b.bin", 20 * PIECE_SIZE)]);
  const limit = new RateLimiter(LIMIT);
  // The rate is the file's bytes over the time to its last verified piece: the whole-file check and rename after it are not the limit's.
  const started = performance.now();
  const verifiedAt: number[] = [];
  await Promise.all(files.map(({ file, peers }) => {
    const finalPath = join(dir, `got-${file.fileName}`);
    return new Download({
      groupId: file.groupId, file, grant: "me", partPath: `${finalPath}.part`, finalPath, peers, downloadLimit: limit,
      onPieceVerified: () => verifiedAt.push(performance.now()),
    }).run();
  }));
  const seconds = (Math.max(...verifiedAt) - started) / 1000;
  const rate = (verifiedAt.length * PIECE_SIZE) / seconds;
  assert.ok(seconds >= 9.5, `the transfer took only ${seconds.toFixed(2)} s`);
  assert.ok(Math.abs(rate - LIMIT) / LIMIT <= 0.05, `${(rate / 2 ** 20).toFixed(3)} MiB/s over ${seconds.toFixed(2)} s; the limit is 2 MiB/s`);
});
