import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FileMetadata } from "../../core/api-types.js";
import { Bitfield } from "../../core/bitfield.js";
import { createPeerServer } from "../src/http/server.js";
import type { DownloadJob } from "../../bench/download-runner.js";

const RUNNER = fileURLToPath(new URL("../../bench/download-runner.ts", import.meta.url));
const PIECE = 64 * 1024;
const PIECES = 64;
const dir = await mkdtemp(join(tmpdir(), "resume-kill-"));
const data = randomBytes(PIECE * PIECES - 999);
const sourcePath = join(dir, "source.bin");
await writeFile(sourcePath, data);
const file: FileMetadata = {
  groupId: "team", fileName: "source.bin", size: data.length, pieceSize: PIECE,
  sha1: createHash("sha1").update(data).digest("hex"),
  pieceHashes: Array.from({ length: PIECES }, (_, i) =>
    createHash("sha1").update(data.subarray(i * PIECE, (i + 1) * PIECE)).digest("hex")),
};

// A seeder that takes 15 ms per request, so a one-piece-at-a-time download lasts long enough to be killed.
const served = { groupId: "team", sha1: file.sha1, size: data.length, pieceSize: PIECE, path: sourcePath, verified: Bitfield.full(PIECES) };
const server = createPeerServer({
  files: { find: (groupId, sha1) => (groupId === "team" && sha1 === file.sha1 ? served : undefined) },
  checkGrant: async () => {
    await new Promise((resolve) => setTimeout(resolve, 15));
    return "downloader";
  },
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
after(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
  await rm(dir, { recursive: true, force: true });
});

interface RunnerLine { verified?: number; have?: string; ok?: boolean; summary?: { bytes: number } }

/** Runs the download in a child process; `onLine` sees each JSON line it prints and may kill it. */
function runChild(job: DownloadJob, onLine: (line: RunnerLine, kill: () => void) => void): Promise<RunnerLine[]> {
  const child = spawn(process.execPath, ["--import", "tsx", RUNNER, JSON.stringify(job)], { stdio: ["ignore", "pipe", "inherit"] });
  const lines: RunnerLine[] = [];
  let pending = "";
  child.stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    const complete = pending.split("\n");
    pending = complete.pop()!;
    for (const text of complete) {
      const line = JSON.parse(text) as RunnerLine;
      lines.push(line);
      onLine(line, () => child.kill("SIGKILL"));
    }
  });
  return new Promise((resolve) => child.on("close", () => resolve(lines)));
}

test("after kill -9 of a downloading process, a new run fetches only the pieces that were not verified", async () => {
  const finalPath = join(dir, "out.bin");
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const job: DownloadJob = {
    groupId: "team", file, grant: "g", partPath: `${finalPath}.part`, finalPath, reportPieces: true,
    peers: [{ userId: "seed", address, piecesHeld: PIECES, complete: true }],
    picker: { maxRunPieces: 1, maxRequestsPerPeer: 1 },
  };
  let verified = 0;
  const first = await runChild(job, (line, kill) => {
    if (line.verified !== undefined && ++verified === 16) kill();
  });
  const reported = first.filter((line) => line.have !== undefined);
  assert.ok(first.every((line) => line.ok === undefined), "the first run was killed before it finished");
  assert.ok(reported.length >= 16 && reported.length < PIECES, `${reported.length} pieces before the kill`);
  assert.ok((await stat(job.partPath)).size === data.length);

  // The state a client would have persisted: the last bitfield it was told about.
  const have = Bitfield.fromBase64(PIECES, reported.at(-1)!.have!);
  const second = await runChild({ ...job, have: have.toBase64(), reportPieces: false }, () => {});
  const result = second.at(-1)!;
  assert.equal(result.ok, true, JSON.stringify(result));
  let missingBytes = 0;
  for (let piece = 0; piece < PIECES; piece++) {
    if (!have.has(piece)) missingBytes += Math.min(PIECE, data.length - piece * PIECE);
  }
  assert.equal(result.summary!.bytes, missingBytes, "bytes fetched after the restart are exactly the missing pieces");
  assert.equal(createHash("sha1").update(await readFile(finalPath)).digest("hex"), file.sha1);
});
