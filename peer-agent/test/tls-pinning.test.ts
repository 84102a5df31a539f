import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createTlsServer, connect as connectTls } from "node:tls";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashFile, PIECE_SIZE } from "../../core/pieces.js";
import type { FileMetadata, PeerView } from "../../core/api-types.js";
import { Download } from "../src/download/engine.js";
import { createSelfSigned, type TlsIdentity } from "../src/tls/self-signed.js";
import { startSeeder } from "./support/seeders.js";

const dir = await mkdtemp(join(tmpdir(), "tls-pinning-"));
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await rm(dir, { recursive: true, force: true });
});

const data = randomBytes(4 * PIECE_SIZE + 1000);
const sourcePath = join(dir, "report.pdf");
await writeFile(sourcePath, data);
const file: FileMetadata = { groupId: "team", fileName: "report.pdf", ...(await hashFile(sourcePath)) };

/** A seeder serving over TLS with `identity`, listed as a tracker would list it with `registered` as its fingerprint. */
async function tlsSeeder(identity: TlsIdentity, registered = identity.fingerprint): Promise<PeerView> {
  const seeder = await startSeeder("alice", file, sourcePath, { tls: identity });
  closers.push(seeder.close);
  return { ...seeder.peer, certSha256: registered };
}

/**
 * A man in the middle: terminates TLS with its own certificate (on another
 * port) and would relay to the real agent. Counts the bytes it was sent after
 * the handshake: a request reaching it would hand over the downloader's grant.
 */
async function manInTheMiddle(target: string): Promise<{ address: string; received: () => number }> {
  const own = createSelfSigned();
  let received = 0;
  const [host, port] = target.split(":") as [string, string];
  const server = createTlsServer({ key: own.keyPem, cert: own.certPem }, (client) => {
    client.on("data", (chunk: Buffer) => (received += chunk.length));
    const upstream = connectTls({ host, port: Number(port), rejectUnauthorized: false });
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  closers.push(() => new Promise((done) => server.close(() => done())));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received };
}

function download(name: string, peers: PeerView[]): Promise<unknown> {
  const finalPath = join(dir, name);
  return new Download({ groupId: file.groupId, file, grant: "grant-of-bob", partPath: `${finalPath}.part`, finalPath, peers }).run();
}

test("a download over TLS takes every piece from an agent whose certificate matches its registered fingerprint", async () => {
  const peer = await tlsSeeder(createSelfSigned());
  await download("matching.pdf", [peer]);
  assert.equal(createHash("sha1").update(await readFile(join(dir, "matching.pdf"))).digest("hex"), file.sha1);
});

test("a downloader refuses a man in the middle presenting its own certificate, and sends it nothing", async () => {
  const real = await tlsSeeder(createSelfSigned());
  const mitm = await manInTheMiddle(real.address);
  // The address was redirected to the man in the middle; the fingerprint is still the one the real agent registered.
  await assert.rejects(download("intercepted.pdf", [{ ...real, address: mitm.address }]));
  assert.equal(mitm.received(), 0, "the grant went to the man in the middle");
});

test("a downloader refuses an agent whose key changed until it registers the new fingerprint", async () => {
  const before = createSelfSigned();
  const after = createSelfSigned();
  const stale = await tlsSeeder(after, before.fingerprint);
  await assert.rejects(download("stale.pdf", [stale]));
  await download("registered-again.pdf", [{ ...stale, certSha256: after.fingerprint }]);
  assert.equal(createHash("sha1").update(await readFile(join(dir, "registered-again.pdf"))).digest("hex"), file.sha1);
});
