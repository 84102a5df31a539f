import { createSecureContext, type SecureContext, type SecureContextOptions, type TlsOptions } from "node:tls";

/**
 * TLS between agents, both ends. TLS 1.3 only (one round trip, no
 * renegotiation), and AES-128-GCM first: with AES-NI it is the cheapest AEAD
 * per byte, and on loopback the cipher is most of what TLS costs
 * (docs/performance.md, "TLS between agents"). ChaCha20 stays offered for CPUs
 * without AES instructions.
 */
export const TLS_PROTOCOL: SecureContextOptions = {
  minVersion: "TLSv1.3",
  ciphers: "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
};

export const TLS_SERVER_OPTIONS: TlsOptions = { ...TLS_PROTOCOL, honorCipherOrder: true };

let clientContext: SecureContext | undefined;

/**
 * One secure context for every connection this agent opens. Without it each
 * connection built its own (Node does when a `connect` call names no context),
 * loading OpenSSL's settings again: 2 % of all agents' CPU in a crowd of 12.
 */
export function clientSecureContext(): SecureContext {
  return (clientContext ??= createSecureContext(TLS_PROTOCOL));
}
