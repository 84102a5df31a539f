import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { hashFile, PIECE_SIZE } from "../../core/pieces.js";
import type { FileMetadata } from "../../core/api-types.js";
import { Download } from "../src/download/engine.js";
import { RateLimiter } from "../src/rate-limiter.js";
import { startSeeder } from "./support/seeders.js";

const dir = await mkdtemp(join(tmpdir(), "upload-limit-"));
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await rm(dir, { recursive: true, force: true });
});

const LIMIT = 2 * 1024 * 1024;
// 10 s of the limit in all, shared by two downloaders.
const data = randomBytes(10 * PIECE_SIZE * 2);
const sourcePath = join(dir, "course.zip");
await writeFile(sourcePath, data);
const file: FileMetadata = { groupId: "class", fileName: "course.zip", ...(await hashFile(sourcePath)) };

test("an agent's upload limit holds within 5 % over 10 s for all its downloaders together, each getting a fair half", async () => {
  const seeder = await startSeeder("seeder", file, sourcePath, { uploadLimit: new RateLimiter(LIMIT) });
  closers.push(seeder.close);
  // The rate is the file's bytes over the time to its last verified piece: the whole-file check and rename after it are not the limit's.
  const started = performance.now();
  const verifiedAt: number[] = [];
  const finishedAt: number[] = [];
  await Promise.all(["ann", "bob"].map(async (name) => {
    const finalPath = join(dir, `${name}.zip`);
    await new Download({
      groupId: file.groupId, file, grant: name, partPath: `${finalPath}.part`, finalPath, peers: [seeder.peer],
      onPieceVerified: () => verifiedAt.push(performance.now()),
    }).run();
    finishedAt.push(performance.now());
  }));
  const seconds = (Math.max(...verifiedAt) - started) / 1000;
  const rate = (verifiedAt.length * PIECE_SIZE) / seconds;
  assert.ok(seconds >= 9.5, `the transfer took only ${seconds.toFixed(2)} s`);
  assert.ok(Math.abs(rate - LIMIT) / LIMIT <= 0.05, `${(rate / 2 ** 20).toFixed(3)} MiB/s over ${seconds.toFixed(2)} s; the limit is 2 MiB/s`);
  // Fair: neither finished while the other still had much to get.
  const [early, late] = finishedAt.sort((a, b) => a - b).map((at) => (at - started) / 1000);
  assert.ok(early! >= late! * 0.85, `one downloader finished at ${early!.toFixed(2)} s, the other at ${late!.toFixed(2)} s`);
});

test("an agent whose upload limit is 0 refuses bytes with 503 and a Retry-After, and serves again when it is raised", async () => {
  const limit = new RateLimiter(0);
  const seeder = await startSeeder("leech", file, sourcePath, { uploadLimit: limit });
  closers.push(seeder.close);
  const url = `http://${seeder.peer.address}/groups/${file.groupId}/files/${file.sha1}`;
  const refused = await request(url, { headers: { authorization: "Bearer ann", range: "bytes=0-9" } });
  assert.equal(refused.statusCode, 503);
  assert.ok(Number(refused.headers["retry-after"]) > 0);
  assert.equal(((await refused.body.json()) as { code: string }).code, "UPLOAD_OFF");
  limit.set(undefined);
  const served = await request(url, { headers: { authorization: "Bearer ann", range: "bytes=0-9" } });
  assert.equal(served.statusCode, 206);
  assert.deepEqual(Buffer.from(await served.body.arrayBuffer()), data.subarray(0, 10));
});
