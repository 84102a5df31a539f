import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadIdentity, TLS_CERT_FILE, TLS_KEY_FILE } from "../src/tls/identity.js";

test("an agent's TLS key and certificate are kept in its state dir readable by its owner only, and reused at the next start", async () => {
  const dir = join(await mkdtemp(join(tmpdir(), "tls-identity-")), "state");
  try {
    const first = await loadIdentity(dir);
    await first.save();
    for (const file of [TLS_KEY_FILE, TLS_CERT_FILE]) assert.equal((await stat(join(dir, file))).mode & 0o777, 0o600, file);
    assert.equal((await loadIdentity(dir)).identity.fingerprint, first.identity.fingerprint);
  } finally {
    await rm(join(dir, ".."), { recursive: true, force: true });
  }
});
