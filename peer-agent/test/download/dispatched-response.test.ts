import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { Pool } from "undici";
import { dispatchGet, ResponseBody } from "../../src/download/dispatched-response.js";
import { reusedBufferConnector } from "../../src/download/reused-buffer-connector.js";

test("a chunk that waits in a paused body is emitted as it was pushed, even when its buffer is reused meanwhile", () => {
  const body = new ResponseBody();
  const received: Buffer[] = [];
  body.pause();
  body.on("data", (chunk: Buffer) => received.push(Buffer.from(chunk)));
  const reused = Buffer.from("first");
  body.push(reused);
  reused.write("XXXXX"); // the socket's next read lands in the same memory
  body.push(Buffer.from("second"));
  body.resume();
  assert.deepEqual(received.map(String), ["first", "second"]);
});

test("a request aborted while its TLS handshake hangs settles at once, not after the connect timeout", async () => {
  // Accepts the connection and never answers: a peer whose process is stopped (SIGSTOP) looks like this.
  const silent = createServer(() => {}).listen(0, "127.0.0.1");
  await once(silent, "listening");
  const connectTimeoutMs = 5000;
  const pool = new Pool(`https://127.0.0.1:${(silent.address() as AddressInfo).port}`, {
    connect: reusedBufferConnector({ timeoutMs: connectTimeoutMs, pin: "0".repeat(64) }),
  });
  try {
    const controller = new AbortController();
    const started = performance.now();
    const answer = dispatchGet(pool, { path: "/", headers: {}, signal: controller.signal, headersTimeout: connectTimeoutMs, bodyTimeout: connectTimeoutMs });
    setTimeout(() => controller.abort(new Error("no longer needed")), 100);
    await assert.rejects(answer, /no longer needed/);
    assert.ok(performance.now() - started < connectTimeoutMs / 2, `settled after ${Math.round(performance.now() - started)} ms`);
  } finally {
    await pool.destroy();
    silent.close();
  }
});
