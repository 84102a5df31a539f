import { Pool } from "undici";
import { Bitfield } from "../../../core/bitfield.js";
import { AppError, Codes, fromProblem } from "../../../core/errors.js";
import type { BitfieldView } from "../../../core/api-types.js";
import { dispatchGet, type PeerResponse } from "./dispatched-response.js";
import type { RateLimiter } from "../rate-limiter.js";
import { reusedBufferConnector, type TlsSessions } from "./reused-buffer-connector.js";
import { AGENT } from "../config.js";

export type { PeerResponse };

/**
 * One remote peer agent as seen by a download: an undici keep-alive pool
 * (several requests in flight, each on its own connection) and what we
 * measured of it.
 */
export class PeerConnection {
  readonly id: string;
  readonly userId: string;
  readonly address: string;
  /** The certificate fingerprint its user registered: reached over TLS accepting only that certificate. Undefined: plain HTTP. */
  readonly certSha256: string | undefined;
  readonly #pool: Pool;
  bitfield: Bitfield;
  /**
   * How fast the peer delivers to us, smoothed: bytes from all our requests
   * to it while one was streaming, over that time, without the wait for the
   * first byte. (Per request, two requests in flight each looked half as
   * fast, and waits counted as slowness: runs and windows shrank as the round
   * trip grew, which is when they need to grow.)
   */
  bytesPerSecond = 0;
  /** Piece bytes received from this peer so far, all requests together. */
  received = 0;
  /** When its last piece bytes arrived (Date.now()); undefined before the first. */
  deliveredAt: number | undefined;
  latencyMs = 0;
  /** Pieces that failed their SHA1, and requests that failed or timed out. */
  failures = 0;
  /** Pieces that failed their SHA1: the peer is banned after a few. */
  badPieces = 0;
  /** Failed or timed-out requests since the last good one; the peer is dropped after a few. */
  consecutiveErrors = 0;
  banned = false;
  /** Not asked before this time: it answered 429 or 503 with Retry-After. */
  busyUntil = 0;
  /** Requests in flight now. */
  active = 0;
  bytes = 0;
  pieces = 0;

  /**
   * `onConnected`: told each time a connection to the peer is up (for a TLS peer: handshake done, certificate
   * matched). `tlsSessions`: where TLS sessions are kept and resumed from (the agent's, shared by its downloads).
   */
  constructor(
    userId: string,
    address: string,
    pieceCount: number,
    connections: number = AGENT.PEER_CONNECTIONS,
    certSha256?: string,
    { onConnected, tlsSessions }: { onConnected?: () => void; tlsSessions?: TlsSessions } = {},
  ) {
    this.id = peerId(userId, address, certSha256);
    this.userId = userId;
    this.address = address;
    this.certSha256 = certSha256;
    this.bitfield = new Bitfield(pieceCount);
    // Beyond the requests in flight: one for the peer's event stream, one so a bitfield read never waits behind piece transfers.
    this.#pool = new Pool(`${certSha256 ? "https" : "http"}://${address}`, {
      connections: connections + 2,
      connect: reusedBufferConnector({
        timeoutMs: AGENT.PEER_CONNECT_TIMEOUT_MS,
        ...(certSha256 ? { pin: certSha256 } : {}),
        ...(onConnected ? { onConnected } : {}),
        ...(tlsSessions ? { sessions: tlsSessions } : {}),
      }),
      keepAliveTimeout: AGENT.PEER_KEEP_ALIVE_MS,
    });
  }

  /** Sends a GET and resolves with the response head; the body is the caller's to read or discard. */
  get(
    path: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
    timeouts: { headersTimeout: number; bodyTimeout: number } = { headersTimeout: AGENT.PEER_IDLE_TIMEOUT_MS, bodyTimeout: AGENT.PEER_IDLE_TIMEOUT_MS },
    limiter?: RateLimiter,
  ): Promise<PeerResponse> {
    // Idle means nothing received: waiting for the head, or between body chunks.
    return dispatchGet(this.#pool, { path, headers, signal, limiter, ...timeouts });
  }

  /** The peer's verified pieces, read once. */
  async fetchBitfield(path: string, grant: string, signal?: AbortSignal): Promise<Bitfield> {
    const response = await this.get(path, { authorization: `Bearer ${grant}` }, signal);
    const body = (await readJson(response)) as BitfieldView;
    if (response.statusCode !== 200) throw fromProblem(response.statusCode ?? 502, body);
    if (typeof body.bitfield !== "string") throw new AppError(502, Codes.PEER_BAD_ANSWER, "the peer's bitfield answer has no bitfield");
    return Bitfield.fromBase64(this.bitfield.size, body.bitfield);
  }

  /** Records what the peer delivered during one request's transfer: exponentially weighted, so the picker follows its current speed. */
  measure(bytes: number, elapsedMs: number, firstByteMs: number): void {
    const rate = (bytes / Math.max(elapsedMs, 1)) * 1000;
    this.bytesPerSecond = this.bytesPerSecond === 0 ? rate : this.bytesPerSecond * (1 - AGENT.PEER_MEASURE_WEIGHT) + rate * AGENT.PEER_MEASURE_WEIGHT;
    this.latencyMs = this.latencyMs === 0 ? firstByteMs : this.latencyMs * (1 - AGENT.PEER_MEASURE_WEIGHT) + firstByteMs * AGENT.PEER_MEASURE_WEIGHT;
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}

/**
 * Who a peer is for a download: its user, address and registered certificate.
 * A peer that re-registers a new certificate is a new peer (the old pin's
 * connections are never reused for it).
 */
export function peerId(userId: string, address: string, certSha256?: string): string {
  return certSha256 ? `${userId}@${address}#${certSha256.slice(0, 16)}` : `${userId}@${address}`;
}

async function readJson(response: PeerResponse): Promise<unknown> {
  const chunks: Buffer[] = [];
  let length = 0;
  await new Promise<void>((resolve, reject) => {
    response.body.on("data", (chunk: Buffer) => {
      if (length > AGENT.PEER_MAX_JSON_BYTES) return;
      length += chunk.length;
      if (length > AGENT.PEER_MAX_JSON_BYTES) {
        const error = new AppError(502, Codes.PEER_BAD_ANSWER, "the peer's answer is too large");
        response.body.destroy(error);
        reject(error);
        return;
      }
      chunks.push(Buffer.from(chunk)); // the chunk's memory is reused after this event
    });
    response.body.on("end", resolve);
    response.body.on("error", reject);
  });
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new AppError(502, Codes.PEER_BAD_ANSWER, `the peer answered ${response.statusCode} without JSON`);
  }
}

/** Discards a response body, keeping its connection for the next request when that is cheap. */
export function discard(response: PeerResponse): void {
  response.body.resume();
}

export function describeFailure(error: unknown): string {
  if (error instanceof AppError) return `${error.code}: ${error.message}`;
  const e = error as { code?: string; message?: string };
  return e.code ?? e.message ?? String(error);
}
