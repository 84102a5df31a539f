import type { ServerResponse } from "node:http";
import { Codes, TooManyRequestsError } from "../../../core/errors.js";
import { AGENT } from "../config.js";
import type { ServedFile } from "./served-file.js";

/**
 * What this agent tells the downloaders that watch one of its files as it
 * happens (BitTorrent's HAVE message, over Server-Sent Events): news after a
 * quiet spell at the end of the event loop's turn, news close behind it
 * gathered for up to `batchMs`, everything for one watcher in one write:
 * - `bitfield` once, first: the verified pieces now;
 * - `have`: pieces verified since;
 * - `sending`: runs of pieces this agent started sending to another
 *   downloader, so the others ask for pieces it has not given out yet;
 * - `peers`: the other downloaders watching this file here, with the address
 *   each said it serves on (peer exchange: downloaders that start together
 *   find each other without waiting for the tracker).
 *
 * Its cost is bounded: a watcher per requester, agent address and file (a
 * reconnection replaces the stream it lost), at most `maxPerFile` per file and `maxTotal` in all
 * (more are answered 429 with Retry-After and poll the bitfield instead), a
 * watcher whose socket backs up past `maxBufferedBytes` is dropped (it
 * reconnects and gets a fresh bitfield), and one timer sends every watcher a
 * comment line every `keepAliveMs` so dead connections are found, and ends
 * the streams whose grant has expired (a member removed from the group gets
 * no fresh grant, so it stops hearing about the file).
 */
export interface SwarmEventsOptions {
  maxPerFile?: number;
  maxTotal?: number;
  maxBufferedBytes?: number;
  keepAliveMs?: number;
  /** How many other watchers a `peers` event names at most. */
  maxPeersListed?: number;
  /** Events of one file go out at most once per this many ms (see AGENT.SWARM_EVENT_BATCH_MS). */
  batchMs?: number;
}

export interface WatcherInfo {
  /** The grant's subject. */
  userId: string;
  /** Where the watcher says its own agent serves (for peer exchange); undefined when it gave none. */
  address: string | undefined;
  /** Its agent's certificate fingerprint, passed on with the address (absent: plain HTTP). */
  certSha256?: string;
  /** When its grant expires (ms): the stream ends then, and the watcher comes back with a fresh grant. */
  until?: number;
}

interface Watcher extends WatcherInfo {
  res: ServerResponse;
}

interface FileWatch {
  watchers: Set<Watcher>;
  /** Pieces verified since the last flush. */
  haves: number[];
  /** Runs started since the last flush, with who receives each (not told about its own). */
  sending: { first: number; last: number; to: string }[];
  /** Watchers that arrived since the last flush: the others are told about them. */
  joined: Watcher[];
  scheduled: boolean;
  /** When the last batch went out (performance.now()). */
  flushedAt: number;
}

export class SwarmEvents {
  readonly #files = new Map<string, FileWatch>();
  readonly #maxPerFile: number;
  readonly #maxTotal: number;
  readonly #maxBuffered: number;
  readonly #maxPeersListed: number;
  readonly #batchMs: number;
  #total = 0;
  readonly #keepAlive: NodeJS.Timeout;

  constructor(options: SwarmEventsOptions = {}) {
    this.#maxPerFile = options.maxPerFile ?? AGENT.SWARM_WATCHERS_PER_FILE;
    this.#maxTotal = options.maxTotal ?? AGENT.SWARM_WATCHERS_TOTAL;
    this.#maxBuffered = options.maxBufferedBytes ?? AGENT.SWARM_MAX_BUFFERED_BYTES;
    this.#maxPeersListed = options.maxPeersListed ?? AGENT.SWARM_PEERS_LISTED;
    this.#batchMs = options.batchMs ?? AGENT.SWARM_EVENT_BATCH_MS;
    this.#keepAlive = setInterval(() => this.#ping(), options.keepAliveMs ?? AGENT.SWARM_KEEP_ALIVE_MS);
    this.#keepAlive.unref();
  }

  /** Watchers of every file, for tests and status. */
  get watching(): number {
    return this.#total;
  }

  /** Starts the event stream of `file` on `res` for a requester whose grant was checked. */
  watch(file: ServedFile, watcher: WatcherInfo, res: ServerResponse): void {
    const key = keyOf(file.groupId, file.sha1);
    let watch = this.#files.get(key);
    // One watcher per requester, agent and file: a reconnection replaces the stream it lost.
    const previous = watch && [...watch.watchers].find((w) => w.userId === watcher.userId && w.address === watcher.address);
    if (previous) this.#drop(key, previous);
    watch = this.#files.get(key);
    if ((watch?.watchers.size ?? 0) >= this.#maxPerFile || this.#total >= this.#maxTotal) {
      throw new TooManyRequestsError("this peer has as many watchers as it serves; poll the bitfield instead", AGENT.SWARM_BUSY_RETRY_S, Codes.PEER_BUSY);
    }
    if (!watch) this.#files.set(key, (watch = { watchers: new Set(), haves: [], sending: [], joined: [], scheduled: false, flushedAt: -Infinity }));
    const entry: Watcher = { ...watcher, res };
    watch.watchers.add(entry);
    this.#total++;
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    res.socket?.setNoDelay(true);
    const bitfield = { pieceCount: file.verified.size, piecesHeld: file.verified.count, bitfield: file.verified.toBase64() };
    this.#write(key, entry, "bitfield", bitfield);
    const others = this.#peersFor(watch, entry);
    if (others.length > 0) this.#write(key, entry, "peers", { peers: others });
    if (entry.address !== undefined) {
      watch.joined.push(entry);
      this.#schedule(key, watch);
    }
    res.on("close", () => this.#drop(key, entry));
  }

  /** A piece of the file was verified here. */
  have(groupId: string, sha1: string, piece: number): void {
    const key = keyOf(groupId, sha1);
    const watch = this.#files.get(key);
    if (!watch) return;
    watch.haves.push(piece);
    this.#schedule(key, watch);
  }

  /** This agent started sending pieces first..last of the file to `to` (a user id). */
  sending(groupId: string, sha1: string, first: number, last: number, to: string): void {
    const key = keyOf(groupId, sha1);
    const watch = this.#files.get(key);
    if (!watch || watch.watchers.size === 0) return;
    watch.sending.push({ first, last, to });
    this.#schedule(key, watch);
  }

  /** The file is no longer served here: its watchers' streams end. */
  closeFile(groupId: string, sha1: string): void {
    const watch = this.#files.get(keyOf(groupId, sha1));
    for (const watcher of [...(watch?.watchers ?? [])]) watcher.res.end();
  }

  closeAll(): void {
    for (const watch of [...this.#files.values()]) for (const watcher of [...watch.watchers]) watcher.res.end();
  }

  /** Stops the keep-alive timer and ends every stream. */
  close(): void {
    clearInterval(this.#keepAlive);
    this.closeAll();
  }

  #schedule(key: string, watch: FileWatch): void {
    if (watch.scheduled) return;
    watch.scheduled = true;
    // The first news after a quiet spell goes out at the end of this turn of the event loop; news
    // that follows close behind waits for the batch interval, so a busy agent writes each watcher
    // a few dozen times a second, not once per piece and per request.
    const wait = watch.flushedAt + this.#batchMs - performance.now();
    if (wait <= 0) setImmediate(() => this.#flush(key, watch));
    else setTimeout(() => this.#flush(key, watch), wait);
  }

  #flush(key: string, watch: FileWatch): void {
    watch.scheduled = false;
    watch.flushedAt = performance.now();
    const haves = watch.haves;
    const sending = watch.sending;
    const joined = watch.joined;
    watch.haves = [];
    watch.sending = [];
    watch.joined = [];
    const haveText = haves.length > 0 ? eventText("have", { pieces: haves }) : "";
    for (const watcher of [...watch.watchers]) {
      // One write per watcher for everything in the batch: each write is a syscall here and a wake-up there.
      let text = haveText;
      const runs = sending.filter((run) => run.to !== watcher.userId).map((run) => [run.first, run.last]);
      if (runs.length > 0) text += eventText("sending", { runs });
      const newcomers = joined.filter((other) => other !== watcher && watch.watchers.has(other) && other.address !== watcher.address);
      if (newcomers.length > 0) text += eventText("peers", { peers: newcomers.map(peerOf) });
      if (text.length > 0) this.#send(key, watcher, text);
    }
  }

  #peersFor(watch: FileWatch, watcher: Watcher): { userId: string; address: string }[] {
    const peers: { userId: string; address: string }[] = [];
    for (const other of watch.watchers) {
      if (peers.length >= this.#maxPeersListed) break;
      if (other === watcher || other.address === undefined || other.address === watcher.address) continue;
      peers.push(peerOf(other));
    }
    return peers;
  }

  #write(key: string, watcher: Watcher, event: string, data: unknown): void {
    this.#send(key, watcher, eventText(event, data));
  }

  #send(key: string, watcher: Watcher, text: string): void {
    const { res } = watcher;
    if (res.destroyed || res.writableEnded) return;
    if (res.writableLength > this.#maxBuffered) {
      // A watcher that does not read is not worth the memory; it reconnects and starts from a fresh bitfield.
      res.destroy();
      this.#drop(key, watcher);
      return;
    }
    res.write(text);
  }

  #ping(): void {
    const now = Date.now();
    for (const [key, watch] of this.#files) {
      for (const watcher of [...watch.watchers]) {
        if (watcher.until !== undefined && watcher.until <= now) this.#drop(key, watcher);
        else if (!watcher.res.writableEnded) watcher.res.write(": keep-alive\n\n");
      }
    }
  }

  #drop(key: string, watcher: Watcher): void {
    const watch = this.#files.get(key);
    if (!watch?.watchers.delete(watcher)) return;
    this.#total--;
    if (!watcher.res.writableEnded) watcher.res.end();
    if (watch.watchers.size === 0) this.#files.delete(key);
  }
}

function eventText(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function peerOf(watcher: Watcher): { userId: string; address: string; certSha256?: string } {
  return { userId: watcher.userId, address: watcher.address!, ...(watcher.certSha256 ? { certSha256: watcher.certSha256 } : {}) };
}

function keyOf(groupId: string, sha1: string): string {
  return `${groupId}\u0000${sha1}`;
}
