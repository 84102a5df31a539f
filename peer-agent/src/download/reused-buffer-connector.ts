import { connect, type Socket } from "node:net";
import { connect as connectTls, type TLSSocket } from "node:tls";
import type { buildConnector } from "undici";
import { AppError, Codes } from "../../../core/errors.js";
import { certFingerprint } from "../tls/self-signed.js";
import { clientSecureContext } from "../tls/tls-options.js";
import { ReadArena } from "./read-arena.js";
import { AGENT } from "../config.js";

/**
 * An undici connector whose sockets, plain or TLS, read into an arena of
 * reused memory per connection (read-arena.ts). A default socket allocates a
 * fresh buffer for every read (64 KiB on a plain socket, one per TLS record
 * of up to 16 KiB on a TLS one): a 1 GiB download made tens of thousands of
 * them, and V8 ran a full garbage collection every few tens of MiB for the
 * external memory they count as; reading into reused buffers cut undici's CPU
 * per GiB by about a third (docs/performance.md, "Socket reads into reused
 * buffers").
 *
 * The price: a chunk that undici hands out is only valid during the call that
 * hands it out. Whoever keeps a chunk past that call must copy it
 * (ResponseBody does when it queues one).
 *
 * Why it is safe: the arena never offers a read memory that holds a byte the
 * socket still holds unread, including bytes undici gave back; reading stops
 * while anything older than the newest read is unread.
 */
export function reusedBufferConnector(options: { timeoutMs: number; pin?: string; onConnected?: () => void; sessions?: TlsSessions }): buildConnector.connector {
  const { pin } = options;
  // One TLS session per peer, resumed by every new connection to it: a resumed handshake skips the key exchange and certificate.
  const sessions = options.sessions ?? new TlsSessions();
  return (target, callback) => {
    const sessionKey = `${target.hostname}:${target.port}#${pin}`;
    const session = pin ? sessions.get(sessionKey) : undefined;
    if (target.protocol !== (pin ? "https:" : "http:")) {
      callback(new Error(`this peer is reached over ${pin ? "https" : "http"}, not ${target.protocol}`), null);
      return;
    }
    const arena = new ReadArena({ bytes: AGENT.READ_ARENA_BYTES, minWindow: AGENT.READ_MIN_WINDOW_BYTES, maxWindow: AGENT.READ_MAX_WINDOW_BYTES });
    let answered = false;
    const answer = (error: Error | null) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (error) {
        socket.destroy();
        callback(error, null);
      } else {
        options.onConnected?.();
        callback(null, socket);
      }
    };
    const common = {
      host: target.hostname,
      port: Number(target.port) || (pin ? 443 : 80),
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
      noDelay: true,
      keepAlive: true,
    };
    const readIntoArena = {
      onread: {
        buffer: () => arena.window(),
        callback: (bytes: number, window: Uint8Array) => {
          socket.push(arena.filled(window as Buffer, bytes, socket.readableLength + bytes));
          // Read on only while nothing older is unread (a TLS socket still delivers the records it already decrypted).
          return socket.readableLength <= bytes;
        },
      },
    };
    const socket: Socket = pin
      ? connectTls({
          ...common,
          secureContext: clientSecureContext(),
          // No CA: the certificate is self-signed and accepted only if it hashes to the fingerprint the tracker handed out (checked below, before undici writes anything).
          rejectUnauthorized: false,
          ...(session ? { session } : {}),
          ...readIntoArena,
        })
      : connect({ ...common, ...readIntoArena });
    const timer = setTimeout(() => answer(connectTimeout(target, options.timeoutMs)), options.timeoutMs);
    if (pin) {
      const tls = socket as TLSSocket;
      let verified = false;
      // Only a connection whose certificate matched hands out sessions to resume: resuming one proves the peer is that agent.
      tls.on("session", (ticket: Buffer) => {
        if (verified) sessions.set(sessionKey, ticket);
      });
      tls.once("secureConnect", () => {
        // A resumed TLS 1.3 session often carries no certificate to show: the resumption itself is the proof (above).
        const presented = tls.getPeerCertificate().raw;
        verified = tls.isSessionReused() || (presented !== undefined && certFingerprint(presented) === pin);
        if (verified) return answer(null);
        sessions.delete(sessionKey);
        answer(new AppError(502, Codes.PEER_CERT_MISMATCH, `the peer at ${target.hostname}:${target.port} presented a certificate other than the one its user registered with the tracker`));
      });
    } else socket.once("connect", () => answer(null));
    socket.once("error", (error) => answer(error));
  };
}

/**
 * TLS sessions to resume, by peer address and pinned certificate. Only a
 * connection whose certificate matched its pin stores one, so resuming it
 * proves the peer is that agent. An agent keeps one for all its downloads:
 * a download from peers an earlier download reached starts with resumed
 * handshakes (issue 12, fixed cost per download: a folder of small files
 * is one download each).
 */
export class TlsSessions {
  /** Peers remembered at most: a session is a few hundred bytes. */
  static readonly MAX = 1000;
  readonly #sessions = new Map<string, Buffer>();

  get(key: string): Buffer | undefined {
    return this.#sessions.get(key);
  }

  set(key: string, ticket: Buffer): void {
    this.#sessions.delete(key); // re-inserted as the newest
    this.#sessions.set(key, ticket);
    if (this.#sessions.size > TlsSessions.MAX) this.#sessions.delete(this.#sessions.keys().next().value!);
  }

  delete(key: string): void {
    this.#sessions.delete(key);
  }
}

function connectTimeout(target: buildConnector.Options, ms: number): Error {
  return Object.assign(new Error(`connecting to ${target.hostname}:${target.port} timed out after ${ms} ms`), { code: "UND_ERR_CONNECT_TIMEOUT" });
}
