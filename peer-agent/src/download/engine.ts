import { createHash, type Hash } from "node:crypto";
import { writeSync } from "node:fs";
import { access, open, rename, type FileHandle } from "node:fs/promises";
import type { FileMetadata, ManifestEntry, PeerView } from "../../../core/api-types.js";
import { Bitfield } from "../../../core/bitfield.js";
import { AppError, Codes, ConflictError, FileChecksumError, NoSourceError } from "../../../core/errors.js";
import { pieceBounds } from "../../../core/pieces.js";
import { PiecesInTransit } from "./in-transit.js";
import type { RateLimiter } from "../rate-limiter.js";
import { checkFreeSpace, writeFailure } from "./disk-space.js";
import { pickRequests, randomRanks, type InFlightRequest, type PickerConfig } from "./picker.js";
import { describeFailure, discard, PeerConnection, peerId, type PeerResponse } from "./peer-connection.js";
import { PeerWatch, type PeerWatchOptions } from "./peer-watch.js";
import { PieceStore, type PieceOutcome, type PieceWorkers } from "./piece-store.js";
import type { FolderFingerprint } from "./piece-worker.js";
import type { TlsSessions } from "./reused-buffer-connector.js";
import { RateMeter } from "./rate-meter.js";
import { AGENT } from "../config.js";
import { StartupTrace } from "./startup-trace.js";

export interface DownloadOptions {
  groupId: string;
  file: FileMetadata;
  peers: PeerView[];
  grant: string;
  /** Where verified pieces are written; renamed to finalPath once the whole file checks. For a folder: its part tree, made by the caller. */
  partPath: string;
  finalPath: string;
  /** A folder's files in stream order: each piece is written into the files it spans under partPath (folder/tree-files.ts). */
  folder?: readonly ManifestEntry[];
  /** Pieces already verified in partPath (resume). */
  have?: Bitfield;
  /**
   * The address our own agent serves this file on: told to the peers we
   * watch, so the other downloaders they know learn of us (peer exchange),
   * and never treated as a peer.
   */
  ownAddress?: string;
  /** Our agent's certificate fingerprint, told with ownAddress (absent: it serves plain HTTP). */
  ownCertSha256?: string;
  /** Fresh peers and grant; called every `refreshIntervalMs`, and when nothing can be requested. */
  refreshPeers?: () => Promise<{ peers: PeerView[]; grant: string }>;
  refreshIntervalMs?: number;
  /** Called, not awaited, after a piece is verified and written: it can be served from now on. */
  onPieceVerified?: (index: number, have: Bitfield) => void;
  signal?: AbortSignal;
  random?: () => number;
  /** Play while downloading: the file fills from its start (see the picker's policy). */
  sequential?: boolean;
  /** The agent's download limit, shared by all its downloads; none when absent. */
  downloadLimit?: RateLimiter;
  picker?: Partial<PickerConfig>;
  /** See AGENT.WORKER_BACKLOG_FOR_LOCAL_HASH: 0 hashes every piece on the event loop, Infinity none. */
  localHashBacklog?: number;
  /** Started piece workers to take one from (an agent keeps one ready); one is started otherwise. */
  workers?: PieceWorkers;
  /** Overrides of AGENT.DOWNLOAD_WATCH (tests). */
  watchTimings?: Partial<Omit<PeerWatchOptions, "filePath" | "grant" | "ownAddress" | "ownCertSha256" | "handlers" | "complete">>;
  /** Where the steps up to the first verified piece are timed; one starting at run() otherwise. */
  trace?: StartupTrace;
  /** TLS sessions to resume and keep (an agent's, shared by its downloads); this download's own otherwise. */
  tlsSessions?: TlsSessions;
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
  /** Verified bytes fetched by this run (a resumed download does not count what it already had). */
  bytes: number;
  averageBytesPerSecond: number;
  perPeer: { userId: string; address: string; bytes: number; pieces: number; failures: number; banned: boolean }[];
  /** Users whose peers sent bad data and were banned from this download. */
  banned: string[];
  /** Range requests made, and those given up after their timeout. */
  requests: number;
  timeouts: number;
  /** When the first piece of this run was verified (Date.now() clock); undefined when none was. */
  firstPieceAt?: number;
  /** The steps to the first verified piece, ms after the download was asked for (see StartupTrace). */
  startup: Record<string, number>;
  /** Whether other downloaders of the file were seen, so pieces were taken in a random order of this download's own. */
  swarm: boolean;
}

interface Flight extends InFlightRequest {
  count: number;
  remaining: number;
  peer: PeerConnection;
  duplicate: boolean;
  controller: AbortController;
  /** The next piece of the run still to arrive. */
  next: number;
  bytesLeft: number;
  timedOut: boolean;
}

/** Answers to a peer-list refresh after which the download cannot go on (see #maybeRefresh). */
const REFRESH_REFUSALS_THAT_END: ReadonlySet<string> = new Set([Codes.FILE_NOT_FOUND, Codes.GROUP_NOT_FOUND, Codes.NOT_MEMBER]);

/**
 * Downloads one file from several peers at once. The picker decides which
 * run of pieces to ask of which peer; each run is one Range request whose
 * bytes are cut at piece boundaries as they stream in. Each piece goes to
 * the PieceStore (a worker thread) which checks its SHA1 and only then writes
 * it at its offset in the .part file, and keeps the whole-file SHA1 following
 * the written prefix, so the final check is a real SHA1 of every byte that
 * costs almost nothing at the end. A piece counts as verified (`have`,
 * `onPieceVerified`) once it is written.
 */
export class Download {
  readonly #options: DownloadOptions;
  readonly #have: Bitfield;
  readonly #peers = new Map<string, PeerConnection>();
  /** Every peer that took part, for the summary, even if it was dropped later. */
  readonly #seen = new Map<string, PeerConnection>();
  readonly #flights = new Set<Flight>();
  readonly #watches = new Map<PeerConnection, PeerWatch>();
  /** Peers listed by the tracker (the others came by peer exchange): only these leave when a fresh list omits them. */
  readonly #listed = new Set<PeerConnection>();
  readonly #transit = new PiecesInTransit(AGENT.IN_TRANSIT_MS);
  /** This download's own random order of equally rare pieces, once other downloaders are seen; file order until then. */
  #rank: Uint32Array | undefined;
  readonly #tasks = new Set<Promise<void>>();
  /** Pieces handed to the store, with the request they came in on, until their outcome is back: not asked again, not yet in `have`. */
  readonly #submitted = new Map<number, Flight>();
  readonly #buffers = new PieceBuffers([]);
  readonly #config: PickerConfig;
  #grant: string;
  #startedAt = 0;
  #bytesThisRun = 0;
  #rate: RateMeter | undefined;
  #bytesDone = 0;
  #wake: (() => void) | undefined;
  #lastRefresh = 0;
  #refreshing: Promise<void> | undefined;
  #fatal: unknown;
  #requests = 0;
  #store: PieceStore | undefined;
  #allWritten: (() => void) | undefined;
  #timeouts = 0;
  #closed = false;
  #spaceCheck: Promise<void> | undefined;
  #firstPieceAt: number | undefined;
  /** Complete peers' event streams that wait for the first piece (see #addPeer), while #holdingWatches. */
  readonly #watchesAfterFirstPiece: [PeerConnection, PeerWatch][] = [];
  #holdingWatches = true;
  #trace: StartupTrace | undefined;
  /** The .part file, open while the download runs: its first pieces are written here (see #pieceArrived). */
  #part: FileHandle | undefined;
  #folderFingerprint: FolderFingerprint | undefined;

  constructor(options: DownloadOptions) {
    this.#options = options;
    this.#grant = options.grant;
    this.#config = { ...AGENT.PICKER, ...options.picker };
    const count = options.file.pieceHashes.length;
    this.#have = options.have ? new Bitfield(count, options.have.bytes) : new Bitfield(count);
    for (let i = 0; i < count; i++) if (this.#have.has(i)) this.#bytesDone += this.#pieceLength(i);
  }

  get have(): Bitfield {
    return this.#have;
  }

  /** A folder's size and latest modification time as its files were written, once run() has returned (from the piece worker: no stat pass needed). */
  get folderFingerprint(): FolderFingerprint | undefined {
    return this.#folderFingerprint;
  }

  progress(): DownloadProgress {
    let activePeers = 0;
    for (const peer of this.#peers.values()) if (peer.active > 0) activePeers++;
    return {
      piecesDone: this.#have.count,
      pieceCount: this.#have.size,
      bytesDone: this.#bytesDone,
      size: this.#options.file.size,
      bytesPerSecond: this.#rate?.bytesPerSecond(Date.now()) ?? 0,
      activePeers,
    };
  }

  async run(): Promise<DownloadSummary> {
    const { file, finalPath, partPath, signal } = this.#options;
    this.#trace = this.#options.trace ?? new StartupTrace();
    this.#trace.mark("run");
    this.#startedAt = Date.now();
    this.#rate = new RateMeter(this.#startedAt);
    if (await exists(finalPath)) throw new ConflictError(`${finalPath} already exists; not overwriting it`, Codes.DESTINATION_EXISTS);
    // A folder's files are made and written by the piece store's threads (piece worker, creator, hashing thread); a file is also written here (#writeHere).
    const handle = this.#options.folder ? undefined : await open(partPath, (await exists(partPath)) ? "r+" : "w+");
    let actual: string;
    let heldWatches: NodeJS.Timeout | undefined;
    try {
      this.#part = handle;
      await handle?.truncate(file.size);
      this.#trace.mark("partReady");
      this.#lastRefresh = Date.now();
      this.#syncPeers(this.#options.peers, false);
      // The first requests go out before the piece store is made: their answers are a connection and a round trip
      // away, and nothing reads into a piece buffer before this function returns to the event loop.
      this.#step();
      heldWatches = setTimeout(() => this.#startHeldWatches(), AGENT.COMPLETE_PEER_WATCH_DELAY_MS);
      this.#store = this.#openStore();
      this.#checkFreeSpace();
      for (const flight of this.#flights) this.#store.requested(flight.piece * file.pieceSize, flight.bytesLeft);
      while (!this.#have.complete) {
        signal?.throwIfAborted();
        if (this.#fatal !== undefined) throw this.#fatal;
        this.#maybeRefresh();
        this.#step();
        if (this.#flights.size === 0 && this.#submitted.size === 0 && !this.#have.complete) await this.#noProgress();
        if (!this.#have.complete) await this.#sleepUntilSomethingHappens();
      }
      actual = await this.#store.digest();
      this.#folderFingerprint = this.#store.fingerprint;
    } finally {
      this.#closed = true; // a peer list refresh still in flight is ignored, not awaited
      clearTimeout(heldWatches);
      for (const watch of this.#watches.values()) watch.close();
      for (const flight of this.#flights) flight.controller.abort();
      while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
      await this.#spaceCheck;
      await this.#untilStoreIdle();
      await this.#store?.close();
      this.#part = undefined;
      await handle?.close();
      await Promise.all([...this.#seen.values()].map((peer) => peer.close()));
    }
    if (actual !== file.sha1) {
      throw new FileChecksumError(
        `whole-file SHA1 is ${actual}, expected ${file.sha1}; verified pieces are kept in ${partPath}`,
      );
    }
    if (await exists(finalPath)) throw new ConflictError(`${finalPath} appeared meanwhile; not overwriting it`, Codes.DESTINATION_EXISTS);
    await rename(partPath, finalPath);
    return this.#summary();
  }

  /** The worker that checks and writes pieces, and the piece buffers it shares with this thread. */
  #openStore(): PieceStore {
    const { file, partPath } = this.#options;
    const store = new PieceStore(
      {
        path: partPath,
        size: file.size,
        pieceSize: file.pieceSize,
        pieceHashes: file.pieceHashes,
        have: this.#have,
        slots: AGENT.MAX_PIECE_BUFFERS,
        workers: this.#options.workers,
        ...(this.#options.folder ? { folder: this.#options.folder } : {}),
      },
      (outcome, buffer) => this.#pieceStored(outcome, buffer),
      (error) => {
        this.#fatal ??= new AppError(500, Codes.PIECE_STORE_FAILED, `checking and writing pieces failed: ${error.message}`);
        this.#allWritten?.();
        this.#wake?.();
      },
    );
    this.#buffers.replace(store.buffers);
    return store;
  }

  /** A download that cannot fit on the disk stops at once (disk-space.ts), checked while its first pieces come. */
  #checkFreeSpace(): void {
    const { file, partPath } = this.#options;
    // Verified pieces (a resumed download's) are on the disk already.
    this.#spaceCheck = checkFreeSpace(partPath, file.size - this.#bytesDone).catch((error: unknown) => {
      this.#fatal ??= error;
      this.#wake?.();
    });
  }

  #pieceLength(index: number): number {
    const { size, pieceSize } = this.#options.file;
    return Math.min(pieceSize, size - index * pieceSize);
  }

  #runBytes(piece: number, count: number): number {
    const { size, pieceSize } = this.#options.file;
    return pieceBounds(piece + count - 1, size, pieceSize).end - pieceBounds(piece, size, pieceSize).start;
  }

  #filePath(): string {
    return `/groups/${encodeURIComponent(this.#options.groupId)}/files/${this.#options.file.sha1}`;
  }

  /**
   * Brings the peer set in line with a tracker's peer list: listed peers are
   * added (and watched), and for a refreshed list the listed peers no longer
   * in it leave with their requests.
   */
  #syncPeers(views: PeerView[], dropMissing: boolean): void {
    const listed = new Set(views.map((view) => peerId(view.userId, view.address, view.certSha256)));
    if (dropMissing) {
      for (const peer of [...this.#listed]) if (!listed.has(peer.id)) this.#dropPeer(peer);
    }
    for (const view of views) {
      const peer = this.#addPeer(view.userId, view.address, view.complete, view.certSha256);
      if (peer) this.#listed.add(peer);
    }
  }

  /** Starts using and watching a peer; a peer the tracker says is complete is used at once. */
  #addPeer(userId: string, address: string, complete: boolean, certSha256?: string): PeerConnection | undefined {
    if (this.#closed || address === this.#options.ownAddress) return undefined;
    const id = peerId(userId, address, certSha256);
    const known = this.#peers.get(id);
    if (known) return known;
    if (this.#peers.size >= AGENT.MAX_PEERS) return undefined;
    const peer = this.#seen.get(id) ?? new PeerConnection(userId, address, this.#have.size, this.#config.maxRequestsPerPeer, certSha256, {
      onConnected: () => this.#trace?.mark("connected"),
      ...(this.#options.tlsSessions ? { tlsSessions: this.#options.tlsSessions } : {}),
    });
    if (peer.banned) return undefined;
    this.#seen.set(id, peer);
    this.#peers.set(id, peer);
    peer.consecutiveErrors = 0;
    if (complete) peer.bitfield = Bitfield.full(this.#have.size);
    else this.#joinSwarm();
    const watch = new PeerWatch(peer, {
      ...AGENT.DOWNLOAD_WATCH,
      ...this.#options.watchTimings,
      filePath: this.#filePath(),
      grant: () => this.#grant,
      ownAddress: this.#options.ownAddress,
      ...(this.#options.ownCertSha256 ? { ownCertSha256: this.#options.ownCertSha256 } : {}),
      complete,
      handlers: {
        bitfield: (bits) => {
          for (let piece = 0; piece < bits.size; piece++) if (bits.has(piece) && !peer.bitfield.has(piece)) this.#transit.arrived(piece);
          peer.bitfield = bits;
          if (!bits.complete) this.#joinSwarm();
          this.#wake?.();
        },
        have: (pieces) => {
          for (const piece of pieces) {
            if (peer.bitfield.has(piece)) continue;
            peer.bitfield.set(piece);
            this.#transit.arrived(piece);
          }
          this.#wake?.();
        },
        sending: (runs) => {
          const now = Date.now();
          for (const [first, last] of runs) this.#transit.sending(first, last, now);
          this.#wake?.();
        },
        peers: (others) => {
          for (const other of others) this.#addPeer(other.userId, other.address, false, other.certSha256);
        },
      },
    });
    this.#watches.set(peer, watch);
    // A complete peer's stream only tells who else downloads and what it is sending; started with the first
    // requests, it took each such peer's first connection (or a second TLS handshake with it) and its first
    // moments, in front of the first piece. It waits for that piece, or COMPLETE_PEER_WATCH_DELAY_MS.
    // Any other peer's stream brings the bitfield nothing can be asked before: after this turn's requests.
    if (complete && this.#holdingWatches) this.#watchesAfterFirstPiece.push([peer, watch]);
    else setImmediate(() => this.#startWatch(peer, watch));
    this.#wake?.();
    return peer;
  }

  #startWatch(peer: PeerConnection, watch: PeerWatch): void {
    if (!this.#closed && this.#watches.get(peer) === watch) watch.start();
  }

  /** Starts the complete peers' streams held back for the first piece (see #addPeer). */
  #startHeldWatches(): void {
    this.#holdingWatches = false;
    for (const [peer, watch] of this.#watchesAfterFirstPiece.splice(0)) this.#startWatch(peer, watch);
  }

  /** Other downloaders of this file exist: from now on equally rare pieces go in this download's own random order. */
  #joinSwarm(): void {
    this.#rank ??= randomRanks(this.#have.size, this.#options.random ?? Math.random);
  }

  #dropPeer(peer: PeerConnection): void {
    this.#peers.delete(peer.id);
    this.#listed.delete(peer);
    this.#watches.get(peer)?.close();
    this.#watches.delete(peer);
    for (const flight of this.#flights) if (flight.peer === peer) flight.controller.abort();
  }

  #maybeRefresh(): void {
    const refresh = this.#options.refreshPeers;
    const interval = this.#options.refreshIntervalMs ?? AGENT.PEER_REFRESH_MS;
    if (!refresh || this.#refreshing || Date.now() - this.#lastRefresh < interval) return;
    this.#lastRefresh = Date.now();
    this.#refreshing = refresh()
      .then(({ peers, grant }) => {
        if (this.#closed) return;
        this.#grant = grant;
        this.#syncPeers(peers, true);
      })
      .catch((error: unknown) => {
        // The tracker's own word that nothing can come (nobody shares the file in the group any more, the group
        // is gone, this user left it) ends the download with that word, its pieces kept for a resume; a
        // tracker that did not answer is asked again. (Before, such a download waited with 0 peers for ever.)
        if (error instanceof AppError && REFRESH_REFUSALS_THAT_END.has(error.code)) this.#fatal ??= error;
      })
      .finally(() => {
        this.#refreshing = undefined;
        this.#wake?.();
      });
  }

  #verifiedOrWriting = (piece: number): boolean => this.#have.has(piece) || this.#submitted.has(piece);

  #step(): void {
    const now = Date.now();
    const peers = [...this.#peers.values()];
    const result = pickRequests({
      pieceCount: this.#have.size,
      pieceSize: this.#options.file.pieceSize,
      verified: this.#verifiedOrWriting,
      verifiedCount: this.#have.count + this.#submitted.size,
      inFlight: [...this.#flights],
      peers: peers.map((peer) => ({
        id: peer.id,
        has: (piece: number) => peer.bitfield.has(piece),
        bytesPerSecond: peer.bytesPerSecond,
        latencyMs: peer.latencyMs,
        banned: peer.banned,
        busyUntil: peer.busyUntil,
        deliveredAt: peer.deliveredAt,
      })),
      inTransit: (piece) => this.#transit.count(piece, now),
      rank: this.#rank,
      sequential: this.#options.sequential,
      now,
      random: this.#options.random ?? Math.random,
      config: this.#pickerConfig(),
    });
    for (const expired of result.timedOut) {
      const flight = expired as Flight;
      if (!this.#flights.has(flight)) continue;
      flight.timedOut = true;
      this.#timeouts++;
      flight.controller.abort();
      this.#flights.delete(flight);
    }
    for (const request of result.requests) {
      const peer = this.#peers.get(request.peerId);
      if (!peer) continue;
      const flight: Flight = {
        piece: request.piece,
        count: request.count,
        peerId: peer.id,
        peer,
        duplicate: request.duplicate,
        startedAt: now,
        controller: new AbortController(),
        next: request.piece,
        remaining: request.count,
        bytesLeft: this.#runBytes(request.piece, request.count),
        timedOut: false,
      };
      this.#flights.add(flight);
      if (!request.duplicate) this.#store?.requested(request.piece * this.#options.file.pieceSize, flight.bytesLeft);
      this.#requests++;
      peer.active++;
      const task = this.#fetchRun(flight).finally(() => {
        peer.active--;
        this.#flights.delete(flight);
        this.#tasks.delete(task);
        this.#wake?.();
      });
      this.#tasks.add(task);
    }
  }

  /**
   * Under the agent's download limit a peer is only as fast as its share of
   * the limit: an unmeasured peer is assumed no faster, so its first requests
   * are not timed out as stalled while the limit holds them back.
   */
  #pickerConfig(): PickerConfig {
    const limit = this.#options.downloadLimit?.bytesPerSecond;
    if (limit === undefined) return this.#config;
    const share = limit / Math.max(1, this.#flights.size);
    return { ...this.#config, assumedBytesPerSecond: Math.min(this.#config.assumedBytesPerSecond, share) };
  }

  /** One Range request for a run of pieces; each piece is verified as soon as its last byte arrives. */
  async #fetchRun(flight: Flight): Promise<void> {
    const { file, groupId } = this.#options;
    const { peer } = flight;
    const first = pieceBounds(flight.piece, file.size, file.pieceSize).start;
    const last = pieceBounds(flight.piece + flight.count - 1, file.size, file.pieceSize).end - 1;
    const began = Date.now();
    this.#trace?.mark("request");
    try {
      const response = await peer.get(
        `/groups/${encodeURIComponent(groupId)}/files/${file.sha1}`,
        { authorization: `Bearer ${this.#grant}`, range: `bytes=${first}-${last}` },
        flight.controller.signal,
        undefined,
        this.#options.downloadLimit,
      );
      const firstByteMs = Date.now() - began;
      if (response.statusCode === 429 || response.statusCode === 503) {
        // Busy, not broken: come back when it says.
        const retryAfter = Number(response.headers["retry-after"]);
        peer.busyUntil = Date.now() + (Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, AGENT.BUSY_RETRY_MAX_S) * 1000 : AGENT.BUSY_DEFAULT_MS);
        discard(response);
        return;
      }
      if (response.statusCode !== 206 || response.headers["content-range"] !== `bytes ${first}-${last}/${file.size}`) {
        discard(response);
        throw new Error(`unexpected answer ${response.statusCode} for pieces ${flight.piece}..${flight.piece + flight.count - 1}`);
      }
      this.#trace?.mark("head");
      const headAt = Date.now();
      const receivedAtHead = peer.received;
      if (await this.#receive(flight, response)) {
        peer.measure(peer.received - receivedAtHead, Date.now() - headAt, firstByteMs);
        peer.consecutiveErrors = 0;
      }
    } catch (error) {
      if (flight.controller.signal.aborted && !flight.timedOut) return;
      peer.failures++;
      peer.consecutiveErrors++;
      if (flight.timedOut) {
        // Slower than its measured rate allowed: halve the estimate, so its window shrinks and its timeout grows.
        peer.bytesPerSecond /= 2;
      }
      if (/ECONNREFUSED/.test(describeFailure(error)) || peer.consecutiveErrors >= AGENT.DROP_AFTER_ERRORS) this.#dropPeer(peer);
    }
  }

  /**
   * Reads a run's body, cutting it at piece boundaries into piece buffers as
   * it streams in (hashing it on the way when the piece worker is busy, see
   * AGENT.WORKER_BACKLOG_FOR_LOCAL_HASH); each full piece goes to #pieceArrived at once. When no
   * buffer is free the response is paused (the socket is not read) until one
   * is. Resolves true when the whole run arrived, false when it was stopped
   * early because other peers had already delivered the rest.
   */
  #receive(flight: Flight, response: PeerResponse): Promise<boolean> {
    const body = response.body;
    const end = flight.piece + flight.count;
    const { peer } = flight;
    return new Promise((resolve, reject) => {
      let buffer: Buffer | undefined;
      let hash: Hash | undefined;
      let filled = 0;
      let length = 0;
      let leftover: Buffer | undefined;
      let settled = false;
      const finish = (error?: unknown, complete = false) => {
        if (settled) return;
        settled = true;
        if (buffer) this.#buffers.release(buffer);
        buffer = undefined;
        if (error !== undefined) {
          body.destroy();
          reject(error);
        } else {
          if (!complete) flight.controller.abort();
          resolve(complete);
        }
      };
      const startPiece = (fresh: Buffer) => {
        buffer = fresh;
        hash = this.#hashHere() ? createHash("sha1") : undefined;
        filled = 0;
        length = this.#pieceLength(flight.next);
      };
      /** Returns false when it stopped: finished, failed, or waiting for a buffer with the rest in `leftover`. */
      const consume = (chunk: Buffer): boolean => {
        let offset = 0;
        while (offset < chunk.length) {
          if (!buffer) {
            if (flight.next >= end) {
              finish(new Error(`peer sent more than pieces ${flight.piece}..${end - 1}`));
              return false;
            }
            const fresh = this.#buffers.tryTake();
            if (!fresh) {
              leftover = Buffer.from(chunk.subarray(offset)); // the chunk's memory is reused after this event
              return false;
            }
            startPiece(fresh);
          }
          const take = Math.min(length - filled, chunk.length - offset);
          // Not chunk.copy(): into a SharedArrayBuffer that is V8's relaxed atomic memmove,
          // ~250 ms per GiB here; fill() with a (never empty) buffer is one memcpy, ~13 ms.
          const part = chunk.subarray(offset, offset + take);
          buffer!.fill(part, filled, filled + take);
          hash?.update(part);
          filled += take;
          offset += take;
          if (filled < length) continue;
          const piece = flight.next++;
          flight.remaining = end - flight.next;
          const full = buffer!;
          const intact = hash ? hash.digest("hex") === this.#options.file.pieceHashes[piece] : undefined;
          buffer = undefined;
          this.#pieceArrived(flight, piece, full, length, intact);
          if (peer.banned) {
            finish(new Error(`${peer.id} is banned`));
            return false;
          }
          if (flight.next < end && this.#runAlreadyDone(flight)) {
            finish(undefined, false);
            return false;
          }
        }
        return true;
      };
      const waitForBuffer = () => {
        void this.#buffers.take().then((fresh) => {
          if (settled) return this.#buffers.release(fresh);
          startPiece(fresh);
          const rest = leftover!;
          leftover = undefined;
          if (consume(rest)) body.resume();
          else if (!settled) waitForBuffer();
        });
      };
      body.on("data", (chunk: Buffer) => {
        if (settled) return;
        peer.received += chunk.length;
        flight.bytesLeft -= chunk.length;
        flight.progressAt = peer.deliveredAt = Date.now();
        if (!consume(chunk) && !settled) {
          body.pause();
          waitForBuffer();
        }
      });
      body.on("end", () => {
        if (flight.next === end && !buffer) finish(undefined, true);
        else finish(new Error(`peer sent less than pieces ${flight.piece}..${end - 1}`));
      });
      body.on("error", (error) => finish(error));
      body.on("close", () => finish(new Error("the connection closed before the run was complete")));
    });
  }

  /**
   * Whether the next piece is hashed here as it streams in: when the piece
   * worker is behind (WORKER_BACKLOG_FOR_LOCAL_HASH), and until the first
   * piece is verified, which is then also written here (see #pieceArrived).
   */
  #hashHere(): boolean {
    const backlog = this.#options.localHashBacklog ?? AGENT.WORKER_BACKLOG_FOR_LOCAL_HASH;
    if (backlog === Infinity) return false;
    return this.#firstPieceAt === undefined || this.#store!.waiting >= backlog;
  }

  /**
   * A whole piece is in `buffer` (which this takes over). `intact` says
   * whether it matched its SHA1, or is undefined when it was not hashed yet:
   * the store then checks it before writing it.
   */
  #pieceArrived(flight: Flight, piece: number, buffer: Buffer, length: number, intact: boolean | undefined): void {
    if (this.#verifiedOrWriting(piece) || this.#fatal !== undefined) {
      this.#buffers.release(buffer); // an endgame copy that lost the race
      return;
    }
    if (intact === false) {
      this.#buffers.release(buffer);
      this.#badPiece(flight.peer);
      this.#wake?.();
      return;
    }
    this.#trace?.mark("received");
    this.#submitted.set(piece, flight);
    if (intact === true && this.#firstPieceAt === undefined && this.#writeHere(piece, buffer, length)) {
      // Verified and on disk now, not once the worker's thread is scheduled and its answer read: that wait was
      // most of a download's time to its first piece on a busy machine (docs/performance.md, "Fixed cost per download").
      this.#store!.submit(piece, buffer, length, true, true);
      this.#pieceVerified(piece, flight);
      return;
    }
    this.#store!.submit(piece, buffer, length, intact === true);
  }

  /** Writes a checked piece to the .part file from this thread (512 KiB into the page cache: well under a millisecond). */
  #writeHere(piece: number, buffer: Buffer, length: number): boolean {
    if (!this.#part) return false;
    try {
      const offset = piece * this.#options.file.pieceSize;
      for (let done = 0; done < length; ) done += writeSync(this.#part.fd, buffer, done, length - done, offset + done);
      return true;
    } catch {
      return false; // the worker writes it, and reports a failure as it would
    }
  }

  /** The store checked (when asked to) and wrote a piece, or found it bad, or failed to write it. */
  #pieceStored(outcome: PieceOutcome, buffer: Buffer): void {
    this.#buffers.release(buffer);
    const { piece } = outcome;
    const flight = this.#submitted.get(piece);
    this.#submitted.delete(piece);
    if ("error" in outcome) {
      this.#fatal ??=
        writeFailure(this.#options.partPath, piece, outcome.error) ??
        new AppError(500, Codes.WRITE_FAILED, `could not write piece ${piece} to ${this.#options.partPath}: ${outcome.error}`);
    } else if (!outcome.ok) {
      if (flight) this.#badPiece(flight.peer);
    } else if (!this.#have.has(piece)) {
      this.#pieceVerified(piece, flight);
    }
    if (this.#submitted.size === 0) this.#allWritten?.();
    if (this.#have.complete || this.#fatal !== undefined || !("ok" in outcome && outcome.ok)) this.#wake?.();
  }

  /** A piece is checked and written: it counts, and can be served from now on. */
  #pieceVerified(piece: number, flight: Flight | undefined): void {
    const length = this.#pieceLength(piece);
    this.#have.set(piece);
    if (this.#firstPieceAt === undefined) {
      this.#firstPieceAt = Date.now();
      this.#startHeldWatches();
      this.#trace?.mark("firstPiece");
    }
    this.#bytesDone += length;
    this.#bytesThisRun += length;
    this.#rate?.add(length, Date.now());
    if (flight) {
      flight.peer.bytes += length;
      flight.peer.pieces += 1;
      this.#cancelCopies(flight, piece);
    }
    this.#options.onPieceVerified?.(piece, this.#have);
  }

  /** Waits until every piece handed to the store has its outcome back. */
  async #untilStoreIdle(): Promise<void> {
    while (this.#submitted.size > 0 && this.#fatal === undefined) {
      await new Promise<void>((resolve) => {
        this.#allWritten = resolve;
        setTimeout(resolve, AGENT.STORE_IDLE_POLL_MS);
      });
    }
  }

  /** Every piece this run still expects is verified already (by endgame copies elsewhere). */
  #runAlreadyDone(flight: Flight): boolean {
    for (let piece = flight.next; piece < flight.piece + flight.count; piece++) {
      if (!this.#verifiedOrWriting(piece)) return false;
    }
    return true;
  }

  #badPiece(peer: PeerConnection): void {
    peer.failures += 1;
    peer.badPieces += 1;
    if (peer.badPieces >= AGENT.BAN_AFTER_BAD_PIECES) {
      peer.banned = true;
      this.#dropPeer(peer);
    }
  }

  /** Cancels the other requests whose remaining pieces are all verified now. */
  #cancelCopies(winner: Flight, piece: number): void {
    for (const flight of this.#flights) {
      if (flight === winner || piece < flight.next || piece >= flight.piece + flight.count) continue;
      if (this.#runAlreadyDone(flight)) flight.controller.abort();
    }
  }

  /** Nothing can be requested: refresh the peer list, or give up naming a missing piece. */
  async #noProgress(): Promise<void> {
    const refresh = this.#options.refreshPeers;
    if (refresh) {
      if (!this.#refreshing && Date.now() - this.#lastRefresh > AGENT.NO_PROGRESS_REFRESH_MS) {
        this.#lastRefresh = 0;
        this.#maybeRefresh();
      }
      return;
    }
    // A peer whose stream has not answered yet may still hold what is missing.
    if ([...this.#watches.values()].some((watch) => !watch.settled)) return;
    const usable = [...this.#peers.values()].filter((p) => !p.banned);
    const missing = this.#have.missing().find((piece) => !usable.some((p) => p.bitfield.has(piece)));
    if (missing !== undefined) {
      throw new NoSourceError(`no reachable peer holds piece ${missing}; verified pieces are kept for a later resume`);
    }
  }

  #sleepUntilSomethingHappens(): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#options.signal;
      let ended = false;
      const done = () => {
        // The tick and a deferred wake can both fire: only the first ends this sleep, and a late one
        // must not clear the wake of the next sleep.
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, AGENT.DOWNLOAD_TICK_MS);
      signal?.addEventListener("abort", done, { once: true });
      // Everything that happened in one turn of the event loop (a burst of haves from many peers,
      // several pieces landing) is answered by one step, not one step each.
      let woken = false;
      this.#wake = () => {
        if (woken) return;
        woken = true;
        setImmediate(done);
      };
    });
  }

  #summary(): DownloadSummary {
    const durationMs = Date.now() - this.#startedAt;
    const peers = [...this.#seen.values()];
    return {
      durationMs,
      bytes: this.#bytesThisRun,
      averageBytesPerSecond: durationMs > 0 ? (this.#bytesThisRun / durationMs) * 1000 : this.#bytesThisRun,
      perPeer: peers.map((peer) => ({
        userId: peer.userId,
        address: peer.address,
        bytes: peer.bytes,
        pieces: peer.pieces,
        failures: peer.failures,
        banned: peer.banned,
      })),
      banned: peers.filter((peer) => peer.banned).map((peer) => peer.userId),
      requests: this.#requests,
      timeouts: this.#timeouts,
      firstPieceAt: this.#firstPieceAt,
      startup: this.#trace?.marks ?? {},
      swarm: this.#rank !== undefined,
    };
  }
}

/**
 * The store's piece buffers, reused: a download holds at most that many
 * pieces in memory whatever the file size, and a request whose next buffer
 * is not free waits (its socket is not read meanwhile).
 */
class PieceBuffers {
  readonly #free: Buffer[];
  readonly #waiting: ((buffer: Buffer) => void)[] = [];

  constructor(buffers: readonly Buffer[]) {
    this.#free = [];
    this.replace(buffers);
  }

  /** Starts over with these buffers (the store's, once it is made). */
  replace(buffers: readonly Buffer[]): void {
    // Taken from the end: the first slots are reused first, so untouched ones stay untouched.
    this.#free.splice(0, this.#free.length, ...[...buffers].reverse());
  }

  tryTake(): Buffer | undefined {
    return this.#free.pop();
  }

  take(): Promise<Buffer> {
    const buffer = this.tryTake();
    if (buffer) return Promise.resolve(buffer);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(buffer: Buffer): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(buffer);
    else this.#free.push(buffer);
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
