import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { openSync, closeSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { Writable } from "node:stream";
import type { ServerResponse } from "node:http";
import { sendRange, type ReadAt } from "../src/http/send-range.js";

const dir = await mkdtemp(join(tmpdir(), "send-range-"));
// Larger than loopback socket buffers can hold, so a reader that pauses makes writes wait in the process.
const data = randomBytes(24 * 1024 * 1024 + 777);
const path = join(dir, "shared.bin");
await writeFile(path, data);
const fd = openSync(path, "r");

/** Ranges are asked as /START/END (inclusive); the declared length follows the range, even past the end of the file. */
let completed = 0;
const server = createServer((req, res) => {
  const [, start, end] = req.url!.split("/").map(Number);
  res.writeHead(200, { "content-length": end! - start! + 1 });
  sendRange(fd, start!, end!, res, () => completed++);
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  closeSync(fd);
  await rm(dir, { recursive: true, force: true });
});

async function fetchRange(start: number, end: number): Promise<Buffer> {
  const { body } = await request(`${base}/${start}/${end}`);
  return Buffer.from(await body.arrayBuffer());
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("a range of several chunks, starting and ending mid-chunk, arrives byte for byte", async () => {
  const received = await fetchRange(12_345, 3 * 1024 * 1024 + 99);
  assert.ok(received.equals(data.subarray(12_345, 3 * 1024 * 1024 + 100)));
});

test("concurrent ranges sharing the reused buffers each arrive intact", async () => {
  const ranges = [[0, data.length - 1], [1, 2_000_000], [700_000, 4_500_000], [data.length - 10, data.length - 1]] as const;
  const received = await Promise.all(ranges.map(([start, end]) => fetchRange(start, end)));
  ranges.forEach(([start, end], i) => assert.ok(received[i]!.equals(data.subarray(start, end + 1)), `range ${start}-${end}`));
});

test("a reader that stops reading for a while still gets every byte: buffers waiting for the socket are not read into", async () => {
  const received = await new Promise<Buffer>((resolve, reject) => {
    const req = httpRequest(`${base}/0/${data.length - 1}`, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", reject);
      res.pause();
      setTimeout(() => res.resume(), 300);
    });
    req.on("error", reject);
    req.end();
  });
  assert.ok(received.equals(data));
});

test("a reader that disconnects mid-body ends the response once, and the next response is intact", async () => {
  const before = completed;
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(`${base}/0/${data.length - 1}`, (res) => {
      res.once("data", () => {
        req.destroy();
        resolve();
      });
    });
    req.on("error", (error) => (req.destroyed ? undefined : reject(error)));
    req.end();
  });
  await until(() => completed === before + 1);
  const received = await fetchRange(100, 2_100_000);
  assert.ok(received.equals(data.subarray(100, 2_100_001)));
  await until(() => completed === before + 2);
});

test("a file shorter than the range cuts the response off instead of padding it", async () => {
  const before = completed;
  const { body } = await request(`${base}/${data.length - 100}/${data.length + 1000}`);
  await assert.rejects(body.arrayBuffer());
  await until(() => completed === before + 1);
});

test("a response that ends while a read is in flight keeps that buffer out of the next response until the read is over", async () => {
  // Reads finish when the test says, filling the buffer with one letter.
  const pending: { buffer: Buffer; length: number; callback: (error: null, bytesRead: number) => void }[] = [];
  const readAt: ReadAt = (_fd, buffer, _offset, length, _position, callback) => void pending.push({ buffer, length, callback });
  const complete = (read: (typeof pending)[number], letter: string) => {
    read.buffer.fill(letter, 0, read.length);
    read.callback(null, read.length);
  };

  const gone = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  sendRange(-1, 0, 1024 * 1024 - 1, gone as unknown as ServerResponse, () => {}, { readAt });
  const stale = pending.shift()!;
  gone.destroy();
  await once(gone, "close");

  // The next response keeps references to what it was handed, as a socket with a backlog does.
  const handed: Buffer[] = [];
  const next = new Writable({ write: (chunk: Buffer, _encoding, callback) => void (handed.push(chunk), callback()) });
  sendRange(-1, 0, 1024 * 1024 - 1, next as unknown as ServerResponse, () => {}, { readAt });
  complete(pending.shift()!, "a");
  complete(pending.shift()!, "b");
  complete(stale, "x"); // the read of the response that is gone lands now
  assert.deepEqual(handed.map((chunk) => chunk.toString("latin1", 0, 1) + chunk.toString("latin1", chunk.length - 1)), ["aa", "bb"]);
});
