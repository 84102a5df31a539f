import { Agent } from "undici";

/**
 * For tests that talk to an agent's piece server directly about something
 * other than TLS: its certificate is taken unchecked (the pinning has tests
 * of its own, tls-pinning.test.ts).
 */
export const anyCertificate = new Agent({ connect: { rejectUnauthorized: false } });

/** The base URL of an agent's piece server: https when it registered a certificate. */
export function agentUrl(node: { peerAddress: string; certSha256?: string | undefined }): string {
  return `${node.certSha256 ? "https" : "http"}://${node.peerAddress}`;
}
