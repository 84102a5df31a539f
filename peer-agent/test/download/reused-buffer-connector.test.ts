import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";
import { dispatchGet, type ResponseBody } from "../../src/download/dispatched-response.js";
import { reusedBufferConnector } from "../../src/download/reused-buffer-connector.js";
import { createSelfSigned } from "../../src/tls/self-signed.js";
import { TLS_SERVER_OPTIONS } from "../../src/tls/tls-options.js";
import { freePort } from "../../../core/free-port.js";

const body = randomBytes(8 << 20);
const answer = (_req: unknown, res: import("node:http").ServerResponse) => {
  res.writeHead(200, { "content-length": body.length });
  res.end(body);
};
const server = createServer(answer).listen(0, "127.0.0.1");
await once(server, "listening");
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => server.close());
// A TLS socket delivers one read per record and goes on delivering decrypted records after it is told to pause.
const identity = createSelfSigned();
const tlsServer = createTlsServer({ key: identity.keyPem, cert: identity.certPem, ...TLS_SERVER_OPTIONS }, answer).listen(0, "127.0.0.1");
await once(tlsServer, "listening");
const tlsOrigin = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
after(() => tlsServer.close());

/** GETs / and returns what arrived, copying each chunk while it is emitted; `onChunk` may pause the body. */
async function get(pool: Pool, onChunk: (body: ResponseBody, index: number) => void = () => {}): Promise<Buffer> {
  const response = await dispatchGet(pool, { path: "/", headers: {}, headersTimeout: 5000, bodyTimeout: 5000 });
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    response.body.on("data", (chunk: Buffer) => {
      chunks.push(Buffer.from(chunk));
      onChunk(response.body, chunks.length);
    });
    response.body.on("end", () => resolve(Buffer.concat(chunks)));
    response.body.on("error", reject);
  });
}

test("a body read through reused buffers arrives intact", async () => {
  const pool = new Pool(origin, { connect: reusedBufferConnector({ timeoutMs: 1000 }) });
  try {
    const received = await get(pool);
    assert.equal(createHash("sha1").update(received).digest("hex"), createHash("sha1").update(body).digest("hex"));
  } finally {
    await pool.close();
  }
});

/** Reads the body through `pool`, pausing it for `pauseMs` at every `every`-th chunk, and checks every byte. */
async function readWithPauses(pool: Pool, every: number, pauseMs: number): Promise<void> {
  try {
    const received = await get(pool, (responseBody, index) => {
      if (index % every !== 0) return;
      responseBody.pause();
      setTimeout(() => responseBody.resume(), pauseMs);
    });
    assert.equal(received.length, body.length);
    assert.ok(received.equals(body), "the bytes differ from what was sent");
  } finally {
    await pool.close();
  }
}

test("a body arrives intact when its reader pauses again and again, so unread data is never overwritten", async () => {
  await readWithPauses(new Pool(origin, { connect: reusedBufferConnector({ timeoutMs: 1000 }) }), 4, 5);
});

test("a body over TLS arrives intact when its reader pauses again and again, so unread records are never overwritten", async () => {
  await readWithPauses(new Pool(tlsOrigin, { connect: reusedBufferConnector({ timeoutMs: 3000, pin: identity.fingerprint }) }), 3, 2);
});

test("a connection that is refused fails the request with the socket's error", async () => {
  const pool = new Pool(`http://127.0.0.1:${await freePort()}`, { connect: reusedBufferConnector({ timeoutMs: 1000 }) });
  try {
    await assert.rejects(get(pool), (error: NodeJS.ErrnoException) => error.code === "ECONNREFUSED");
  } finally {
    await pool.close();
  }
});
