import { Bitfield } from "../../../core/bitfield.js";
import { isCertFingerprint, isIdentifier, isPeerAddress } from "../../../core/validation.js";
import { discard, type PeerConnection, type PeerResponse } from "./peer-connection.js";
import { EventStreamParser } from "./event-stream.js";
import { AGENT } from "../config.js";

/** What a watched peer tells a download, as it happens. */
export interface WatchHandlers {
  /** Its verified pieces now (at the start of each stream, and at each poll). */
  bitfield(bits: Bitfield): void;
  have(pieces: number[]): void;
  /** Runs of pieces (first, last) it started sending to other downloaders. */
  sending(runs: [number, number][]): void;
  /** Other downloaders of the file it knows, with their addresses. */
  peers(peers: { userId: string; address: string; certSha256?: string }[]): void;
}

export interface PeerWatchOptions {
  /** `/groups/{g}/files/{sha1}`: the events and the bitfield are below it. */
  filePath: string;
  /** The grant to present: read at every (re)connection, so a refreshed grant is used. */
  grant: () => string;
  /** Where our own agent serves this file, told to the peer for peer exchange. */
  ownAddress?: string;
  /** Our agent's certificate fingerprint, told with the address so other downloaders can reach it over TLS. */
  ownCertSha256?: string;
  handlers: WatchHandlers;
  /** A peer that sends no event head within this is hung; it is tried again later. */
  firstEventMs: number;
  /** Nothing at all (not even a keep-alive) for this long ends the stream. */
  idleMs: number;
  /** Bitfield polling interval for a peer without an event stream (an older agent, or one that is full). */
  pollMs: number;
  /** Reconnection delays double from min to max. */
  retryMinMs: number;
  retryMaxMs: number;
  /** A complete peer's bitfield never changes: it is not polled when it cannot be watched. */
  complete: boolean;
}

/**
 * Keeps one download informed of what one peer holds: its event stream
 * (GET …/events, Server-Sent Events) while it lasts, reconnecting with
 * backoff when it breaks, and polling the bitfield where the peer has no
 * stream to offer. Never awaited by the download: a hung peer only delays
 * what it alone could have told.
 */
export class PeerWatch {
  readonly #peer: PeerConnection;
  readonly #options: PeerWatchOptions;
  readonly #controller = new AbortController();
  #retryMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Whether a stream delivered its first event and is still open. */
  watching = false;
  /** Whether the first attempt to learn the peer's pieces has ended, one way or the other. */
  settled = false;

  constructor(peer: PeerConnection, options: PeerWatchOptions) {
    this.#peer = peer;
    this.#options = options;
    this.#retryMs = options.retryMinMs;
  }

  start(): void {
    void this.#connect();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#controller.abort();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const { filePath, ownAddress, firstEventMs, idleMs } = this.#options;
    const headers: Record<string, string> = { authorization: `Bearer ${this.#options.grant()}`, accept: "text/event-stream" };
    if (ownAddress) headers["p2p-peer-address"] = ownAddress;
    if (ownAddress && this.#options.ownCertSha256) headers["p2p-peer-cert"] = this.#options.ownCertSha256;
    let response: PeerResponse;
    try {
      response = await this.#peer.get(`${filePath}/events`, headers, this.#controller.signal, { headersTimeout: firstEventMs, bodyTimeout: idleMs });
    } catch {
      this.settled = true;
      return this.#retry();
    }
    if (response.statusCode === 404 || response.statusCode === 429 || response.statusCode === 503) {
      // An agent without event streams, or with all the watchers it takes: its bitfield is read now and then instead.
      discard(response);
      const retryAfter = Number(response.headers["retry-after"]);
      return this.#poll(response.statusCode === 404 ? undefined : Number.isFinite(retryAfter) ? retryAfter * 1000 : this.#options.pollMs);
    }
    if (response.statusCode !== 200) {
      discard(response);
      this.settled = true;
      return this.#retry();
    }
    await this.#read(response);
    this.watching = false;
    this.settled = true;
    this.#retry();
  }

  /** Reads events until the stream ends or breaks its contract. */
  #read(response: PeerResponse): Promise<void> {
    const parser = new EventStreamParser(AGENT.EVENT_STREAM_MAX_LINE);
    return new Promise((resolve) => {
      const stop = () => {
        response.body.destroy();
        resolve();
      };
      response.body.on("data", (chunk: Buffer) => {
        try {
          for (const { event, data } of parser.push(chunk)) this.#deliver(event, JSON.parse(data) as unknown);
        } catch {
          stop(); // not what an agent sends: dropped, and tried again later
        }
      });
      response.body.on("close", resolve);
      response.body.on("error", resolve);
    });
  }

  #deliver(event: string, data: unknown): void {
    const { handlers } = this.#options;
    const size = this.#peer.bitfield.size;
    const body = data as Record<string, unknown>;
    if (event === "bitfield") {
      if (body.pieceCount !== size || typeof body.bitfield !== "string") throw new Error("bad bitfield");
      handlers.bitfield(Bitfield.fromBase64(size, body.bitfield));
      this.watching = true;
      this.settled = true;
      this.#retryMs = this.#options.retryMinMs;
    } else if (event === "have") {
      const pieces = body.pieces;
      if (!Array.isArray(pieces) || !pieces.every((p) => Number.isInteger(p) && p >= 0 && p < size)) throw new Error("bad have");
      handlers.have(pieces as number[]);
    } else if (event === "sending") {
      const runs = body.runs;
      const valid = Array.isArray(runs) && runs.every((r) => Array.isArray(r) && r.length === 2 && Number.isInteger(r[0]) && Number.isInteger(r[1]) && 0 <= r[0] && r[0] <= r[1] && r[1] < size);
      if (!valid) throw new Error("bad sending");
      handlers.sending(runs as [number, number][]);
    } else if (event === "peers") {
      const peers = body.peers;
      if (!Array.isArray(peers)) throw new Error("bad peers");
      handlers.peers(
        peers
          .slice(0, 100)
          .filter((p): p is { userId: string; address: string } => isIdentifier(p?.userId) && isPeerAddress(p?.address))
          // A fingerprint from a peer is only as good as that group member's word: a liar can only point us at itself, which it could do anyway.
          .map(({ userId, address, certSha256 }: { userId: string; address: string; certSha256?: unknown }) => ({ userId, address, ...(isCertFingerprint(certSha256) ? { certSha256 } : {}) })),
      );
    }
  }

  #retry(): void {
    if (this.#closed) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#options.retryMaxMs, this.#retryMs * 2);
    this.#timer = setTimeout(() => void this.#connect(), wait);
    this.#timer.unref();
  }

  /** Reads the bitfield every pollMs (a complete peer's never changes); tries the stream again after `watchAgainMs`. */
  #poll(watchAgainMs: number | undefined): void {
    if (this.#closed || (watchAgainMs === undefined && this.#options.complete)) {
      this.settled = true;
      return;
    }
    const startedAt = Date.now();
    const tick = async () => {
      if (this.#closed) return;
      if (watchAgainMs !== undefined && Date.now() - startedAt >= watchAgainMs) return void this.#connect();
      if (!this.#options.complete && !this.#peer.bitfield.complete) {
        try {
          this.#options.handlers.bitfield(await this.#peer.fetchBitfield(`${this.#options.filePath}/bitfield`, this.#options.grant(), this.#controller.signal));
        } catch {
          // A peer that cannot answer now keeps what we knew of it.
        }
      }
      this.settled = true;
      if (this.#closed) return;
      this.#timer = setTimeout(() => void tick(), this.#options.pollMs);
      this.#timer.unref();
    };
    void tick();
  }
}
