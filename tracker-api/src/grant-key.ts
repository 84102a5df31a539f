import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { calculateJwkThumbprint, exportJWK, type JWK } from "jose";

export interface GrantKey {
  privateKey: KeyObject;
  kid: string;
  issuer: string;
  publicJwk: JWK;
}

/**
 * The tracker's Ed25519 grant-signing key, kept in its data dir (mode 0600) so
 * grants stay valid across restarts; a fresh in-memory key when no dir is given.
 * Every API process of one tracker (--workers, or several on one PostgreSQL
 * database) signs with the same key: they share the data dir.
 */
export async function loadGrantKey(trackerId: string, dataDir?: string): Promise<GrantKey> {
  let privateKey: KeyObject;
  const path = dataDir ? join(dataDir, "grant-key.pem") : undefined;
  if (path && existsSync(path)) {
    privateKey = createPrivateKey(readFileSync(path));
  } else {
    privateKey = generateKeyPairSync("ed25519").privateKey;
    try {
      // Exclusive: API processes of one tracker starting together on one data dir keep the first key made.
      if (path) writeFileSync(path, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      privateKey = createPrivateKey(readFileSync(path!));
    }
  }
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = `${trackerId}-${(await calculateJwkThumbprint(jwk)).slice(0, 16)}`;
  return { privateKey, kid, issuer: trackerId, publicJwk: { ...jwk, kid, alg: "EdDSA", use: "sig" } };
}
