import { X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { certFingerprint, createSelfSigned, type TlsIdentity } from "./self-signed.js";

export type { TlsIdentity };

export const TLS_KEY_FILE = "tls-key.pem";
export const TLS_CERT_FILE = "tls-cert.pem";

/**
 * The agent's TLS key pair and certificate: read from its state dir, or made
 * on first start. A new pair is written by `save` only once the agent is
 * serving (a start that fails leaves no state dir behind), mode 0600: the key
 * is the agent's identity, whoever reads it can pose as this agent to
 * downloaders. A deleted or replaced pair makes a new fingerprint, which the
 * next login or heartbeat registers.
 */
export async function loadIdentity(stateDir: string): Promise<{ identity: TlsIdentity; save: () => Promise<void> }> {
  const keyPath = join(stateDir, TLS_KEY_FILE);
  const certPath = join(stateDir, TLS_CERT_FILE);
  try {
    const [keyPem, certPem] = await Promise.all([readFile(keyPath, "utf8"), readFile(certPath, "utf8")]);
    return { identity: { keyPem, certPem, fingerprint: certFingerprint(new X509Certificate(certPem).raw) }, save: async () => {} };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const identity = createSelfSigned();
  const save = async () => {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await writeFile(keyPath, identity.keyPem, { mode: 0o600 });
    await writeFile(certPath, identity.certPem, { mode: 0o600 });
    // The umask may clear bits but never adds any; chmod states the mode whatever an existing file had.
    await Promise.all([chmod(keyPath, 0o600), chmod(certPath, 0o600)]);
  };
  return { identity, save };
}
