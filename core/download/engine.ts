import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, open, rename, type FileHandle } from "node:fs/promises";
import type { FileMetadata, PeerView } from "../api-types.js";
import { Bitfield } from "../bitfield.js";
import { AppError, ConflictError } from "../errors.js";
import { pieceBounds, sha1Hex } from "../pieces.js";
import { pickRequests, type InFlightRequest } from "./picker.js";
import { describeFailure, PeerConnection } from "./peer-connection.js";

/** A peer is banned from this download after this many pieces that failed their SHA1. */
const BAN_AFTER_BAD_PIECES = 3;
const TICK_MS = 200;

export interface DownloadOptions {
  groupId: string;
  file: FileMetadata;
  peers: PeerView[];
  grant: string;
  /** Where verified pieces are written; renamed to finalPath once the whole file checks. */
  partPath: string;
  finalPath: string;
  /** Pieces already verified in partPath (resume). */
  have?: Bitfield;
  refreshPeers?: () => Promise<{ peers: PeerView[]; grant: string }>;
  /** Called, not awaited, after a piece is verified and written: it can be served from now on. */
  onPieceVerified?: (index: number, have: Bitfield) => void;
  signal?: AbortSignal;
  random?: () => number;
}

export interface DownloadProgress {
  piecesDone: number;
  pieceCount: number;
  bytesDone: number;
  size: number;
  bytesPerSecond: number;
  activePeers: number;
}

export interface DownloadSummary {
  durationMs: number;
  bytes: number;
  averageBytesPerSecond: number;
  perPeer: { userId: string; address: string; bytes: number; pieces: number; failures: number; banned: boolean }[];
}

/** The whole file did not match its SHA1 although every piece did. */
export class FileChecksumError extends AppError {
  constructor(message: string) {
    super(502, "FILE_CHECKSUM_MISMATCH", message);
  }
}

/** No reachable peer holds some piece. */
export class NoSourceError extends AppError {
  constructor(message: string) {
    super(503, "NO_PEER_HAS_PIECE", message);
  }
}

interface Flight extends InFlightRequest {
  controller: AbortController;
}

/**
 * Downloads one file from several peers at once: the picker decides which
 * piece to ask of which peer; every piece is checked by SHA1 before it is
 * written at its offset in the .part file; the whole file is checked at the end.
 */
export class Download {
  readonly #options: DownloadOptions;
  readonly #have: Bitfield;
  readonly #peers = new Map<string, PeerConnection>();
  readonly #flights = new Set<Flight>();
  #grant: string;
  #startedAt = 0;
  #bytesThisRun = 0;
  #wake: (() => void) | undefined;
  #lastRefresh = 0;

  constructor(options: DownloadOptions) {
    this.#options = options;
    this.#grant = options.grant;
    const count = options.file.pieceHashes.length;
    this.#have = options.have ? new Bitfield(count, options.have.bytes) : new Bitfield(count);
  }

  get have(): Bitfield {
    return this.#have;
  }

  progress(): DownloadProgress {
    const { size, pieceSize } = this.#options.file;
    const elapsed = this.#startedAt ? Date.now() - this.#startedAt : 0;
    let bytesDone = 0;
    for (let i = 0; i < this.#have.size; i++) if (this.#have.has(i)) bytesDone += pieceBounds(i, size, pieceSize).end - i * pieceSize;
    return {
      piecesDone: this.#have.count,
      pieceCount: this.#have.size,
      bytesDone,
      size,
      bytesPerSecond: elapsed > 0 ? (this.#bytesThisRun / elapsed) * 1000 : 0,
      activePeers: new Set([...this.#flights].map((f) => f.peerId)).size,
    };
  }

  async run(): Promise<DownloadSummary> {
    const { file, finalPath, partPath, signal } = this.#options;
    this.#startedAt = Date.now();
    if (await exists(finalPath)) throw new ConflictError(`${finalPath} already exists; not overwriting it`, "DESTINATION_EXISTS");
    const handle = await open(partPath, (await exists(partPath)) ? "r+" : "w+");
    try {
      await handle.truncate(file.size);
      await this.#addPeers(this.#options.peers);
      while (!this.#have.complete) {
        signal?.throwIfAborted();
        this.#step(handle);
        if (this.#flights.size === 0 && !this.#have.complete) await this.#noProgress();
        await this.#sleepUntilSomethingHappens();
      }
    } finally {
      for (const flight of this.#flights) flight.controller.abort();
      await handle.close();
      await Promise.all([...this.#peers.values()].map((peer) => peer.close()));
    }
    await this.#checkWholeFile();
    if (await exists(finalPath)) throw new ConflictError(`${finalPath} appeared meanwhile; not overwriting it`, "DESTINATION_EXISTS");
    await rename(partPath, finalPath);
    return this.#summary();
  }

  async #addPeers(views: PeerView[]): Promise<void> {
    const path = `/groups/${encodeURIComponent(this.#options.groupId)}/files/${this.#options.file.sha1}/bitfield`;
    await Promise.all(
      views.map(async (view) => {
        const known = [...this.#peers.values()].find((p) => p.address === view.address && p.userId === view.userId);
        const peer = known ?? new PeerConnection(view.userId, view.address, this.#have.size);
        if (peer.banned) return;
        try {
          await peer.fetchBitfield(path, this.#grant, this.#options.signal);
          this.#peers.set(peer.id, peer);
        } catch {
          this.#peers.delete(peer.id);
          if (!known) await peer.close();
        }
      }),
    );
  }

  #step(handle: FileHandle): void {
    const peers = [...this.#peers.values()];
    const result = pickRequests({
      pieceCount: this.#have.size,
      pieceSize: this.#options.file.pieceSize,
      verified: (piece) => this.#have.has(piece),
      verifiedCount: this.#have.count,
      inFlight: [...this.#flights],
      peers: peers.map((peer) => ({
        id: peer.id,
        has: (piece: number) => peer.bitfield.has(piece),
        bytesPerSecond: peer.bytesPerSecond,
        latencyMs: peer.latencyMs,
        banned: peer.banned,
      })),
      now: Date.now(),
      random: this.#options.random ?? Math.random,
    });
    for (const expired of result.timedOut) {
      const flight = [...this.#flights].find((f) => f === expired || (f.piece === expired.piece && f.peerId === expired.peerId));
      if (flight) {
        flight.controller.abort();
        this.#flights.delete(flight);
      }
    }
    for (const request of result.requests) {
      const peer = this.#peers.get(request.peerId);
      if (!peer) continue;
      const flight: Flight = { piece: request.piece, peerId: peer.id, startedAt: Date.now(), controller: new AbortController() };
      this.#flights.add(flight);
      void this.#fetchPiece(peer, flight, handle).finally(() => {
        this.#flights.delete(flight);
        this.#wake?.();
      });
    }
  }

  async #fetchPiece(peer: PeerConnection, flight: Flight, handle: FileHandle): Promise<void> {
    const { file, groupId } = this.#options;
    const { start, end } = pieceBounds(flight.piece, file.size, file.pieceSize);
    const expected = end - start;
    const began = Date.now();
    try {
      const response = await peer.pool.request({
        path: `/groups/${encodeURIComponent(groupId)}/files/${file.sha1}`,
        method: "GET",
        headers: { authorization: `Bearer ${this.#grant}`, range: `bytes=${start}-${end - 1}` },
        signal: flight.controller.signal,
      });
      const firstByteMs = Date.now() - began;
      if (response.statusCode !== 206 || response.headers["content-range"] !== `bytes ${start}-${end - 1}/${file.size}`) {
        await response.body.dump();
        throw new Error(`unexpected answer ${response.statusCode} for piece ${flight.piece}`);
      }
      const buffer = Buffer.allocUnsafe(expected);
      let received = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        if (received + chunk.length > expected) throw new Error(`peer sent more than piece ${flight.piece}`);
        chunk.copy(buffer, received);
        received += chunk.length;
      }
      if (received !== expected || sha1Hex(buffer) !== file.pieceHashes[flight.piece]) {
        this.#penalize(peer, true);
        return;
      }
      peer.measure(expected, Date.now() - began, firstByteMs);
      if (this.#have.has(flight.piece)) return; // an endgame copy that lost the race
      await handle.write(buffer, 0, expected, start);
      if (this.#have.has(flight.piece)) return;
      this.#have.set(flight.piece);
      peer.bytes += expected;
      peer.pieces += 1;
      this.#bytesThisRun += expected;
      this.#cancelCopies(flight);
      this.#options.onPieceVerified?.(flight.piece, this.#have);
    } catch (error) {
      if (flight.controller.signal.aborted) return;
      // A transport failure or a malformed answer counts against the peer, like bad data.
      this.#penalize(peer, !/ECONNREFUSED|UND_ERR_SOCKET|ECONNRESET/.test(describeFailure(error)));
      if (/ECONNREFUSED/.test(describeFailure(error))) this.#peers.delete(peer.id);
    }
  }

  #penalize(peer: PeerConnection, badData: boolean): void {
    peer.failures += 1;
    if (badData && peer.failures >= BAN_AFTER_BAD_PIECES) peer.banned = true;
  }

  #cancelCopies(winner: Flight): void {
    for (const flight of this.#flights) {
      if (flight !== winner && flight.piece === winner.piece) flight.controller.abort();
    }
  }

  /** Nothing can be requested: refresh the peer list, or give up naming a missing piece. */
  async #noProgress(): Promise<void> {
    const refresh = this.#options.refreshPeers;
    if (refresh && Date.now() - this.#lastRefresh > 1000) {
      this.#lastRefresh = Date.now();
      const { peers, grant } = await refresh();
      this.#grant = grant;
      await this.#addPeers(peers);
      return;
    }
    const usable = [...this.#peers.values()].filter((p) => !p.banned);
    const missing = this.#have.missing().find((piece) => !usable.some((p) => p.bitfield.has(piece)));
    if (missing !== undefined && !refresh) {
      throw new NoSourceError(`no reachable peer holds piece ${missing}; verified pieces are kept for a later resume`);
    }
  }

  #sleepUntilSomethingHappens(): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#options.signal;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, TICK_MS);
      signal?.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
  }

  async #checkWholeFile(): Promise<void> {
    const hash = createHash("sha1");
    for await (const chunk of createReadStream(this.#options.partPath, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
    const actual = hash.digest("hex");
    if (actual !== this.#options.file.sha1) {
      throw new FileChecksumError(
        `whole-file SHA1 is ${actual}, expected ${this.#options.file.sha1}; verified pieces are kept in ${this.#options.partPath}`,
      );
    }
  }

  #summary(): DownloadSummary {
    const durationMs = Date.now() - this.#startedAt;
    return {
      durationMs,
      bytes: this.#bytesThisRun,
      averageBytesPerSecond: durationMs > 0 ? (this.#bytesThisRun / durationMs) * 1000 : this.#bytesThisRun,
      perPeer: [...this.#peers.values()].map((peer) => ({
        userId: peer.userId,
        address: peer.address,
        bytes: peer.bytes,
        pieces: peer.pieces,
        failures: peer.failures,
        banned: peer.banned,
      })),
    };
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
