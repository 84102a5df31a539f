import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Pool } from "undici";
import { reusedBufferConnector, TlsSessions } from "../../src/download/reused-buffer-connector.js";
import { createSelfSigned } from "../../src/tls/self-signed.js";
import { TLS_SERVER_OPTIONS } from "../../src/tls/tls-options.js";

/** A TLS server with a self-signed certificate that closes every connection after its answer, noting whether each resumed a session. */
async function closingTlsServer() {
  const identity = createSelfSigned();
  const resumed: boolean[] = [];
  const server = createServer({ key: identity.keyPem, cert: identity.certPem, ...TLS_SERVER_OPTIONS }, (req, res) => {
    resumed.push((req.socket as TLSSocket).isSessionReused());
    res.setHeader("connection", "close");
    res.end("ok");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { identity, resumed, origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

test("a pinned peer's next connection resumes the TLS session and is accepted, though a resumed session shows no certificate", async () => {
  // Each answer closes its connection, so every request makes a new one.
  const { identity, resumed, origin, close } = await closingTlsServer();
  const pool = new Pool(origin, {
    connections: 1,
    connect: reusedBufferConnector({ timeoutMs: 3000, pin: identity.fingerprint }),
  });
  try {
    for (let i = 0; i < 3; i++) {
      const response = await pool.request({ method: "GET", path: "/" });
      assert.equal(await response.body.text(), "ok");
      await new Promise((resolve) => setTimeout(resolve, 50)); // the session ticket arrives after the handshake
    }
    assert.deepEqual(resumed, [false, true, true]);
  } finally {
    await pool.close();
    close();
  }
});

test("a later download's pool resumes the session an earlier one kept in the agent's TLS sessions, and one pinned to another certificate does not", async () => {
  const { identity, resumed, origin, close } = await closingTlsServer();
  const sessions = new TlsSessions();
  const fetchOnce = async (pin: string) => {
    const pool = new Pool(origin, { connections: 1, connect: reusedBufferConnector({ timeoutMs: 3000, pin, sessions }) });
    try {
      const response = await pool.request({ method: "GET", path: "/" });
      await response.body.text();
      await new Promise((resolve) => setTimeout(resolve, 50)); // the session ticket arrives after the handshake
    } catch {
      // refused: the pin does not match
    } finally {
      await pool.close();
    }
  };
  try {
    await fetchOnce(identity.fingerprint);
    await fetchOnce(identity.fingerprint);
    assert.deepEqual(resumed, [false, true]);
    await fetchOnce(createSelfSigned().fingerprint); // another pin: a full handshake, refused for its certificate
    assert.deepEqual(resumed, [false, true]);
  } finally {
    close();
  }
});
