import { Codes, TooManyRequestsError } from "../../../core/errors.js";
import { AGENT } from "../config.js";

export interface UploadSlotsOptions {
  /** Byte streams this agent sends at once, to everyone: each holds two 512 KiB read buffers. */
  maxStreams: number;
  /** Streams one requester may have at once while nobody else is asking. */
  maxStreamsPerRequester: number;
  /** Requests of one requester that may wait for a slot; more are refused (429). */
  maxQueuedPerRequester: number;
  /** Requests that may wait in all; more are refused (429). */
  maxQueued: number;
}

export const DEFAULT_UPLOAD_SLOTS: UploadSlotsOptions = AGENT.UPLOAD_SLOTS;

interface Requester {
  active: number;
  queue: Waiter[];
  /** Its streams in the order they started: under contention only the first one sends. */
  streams: Stream[];
}

interface Stream {
  /** Resolves a stream held back by `mayPump`, so it looks again. */
  wake?: () => void;
}

/** A granted stream: `mayPump` before each chunk, `release` once at the end. */
export interface UploadSlot {
  /** Undefined when this stream may send its next chunk now; otherwise resolves when it should look again. */
  mayPump(): Promise<void> | undefined;
  release(): void;
}

interface Waiter {
  admit: () => void;
  /** When it started waiting: among requesters with as few streams, the longest waiting goes first. */
  since: number;
}

/**
 * Who may send bytes now. How upload is shared, and why:
 * - alone, a requester gets up to `maxStreamsPerRequester` streams (a
 *   downloader uses two at most: one running, one covering the round trip);
 * - as soon as a second requester is streaming or waiting, each one gets
 *   **one** stream at a time and its further requests wait here, in order.
 *   A capped uplink is shared by TCP per connection, so one stream each is
 *   an equal share of the bandwidth each, whatever a greedy client opens;
 *   a waiting request starts the moment its predecessor ends, with no round
 *   trip lost, so one stream costs a well-behaved downloader nothing.
 *   Streams a requester started before the contention began are held
 *   between chunks (`mayPump`) but for its oldest, so a greedy client that
 *   was alone cannot keep several streams' share once others ask;
 * - at most `maxStreams` streams in all (memory stays bounded in a crowd);
 *   a freed slot goes to the waiting requester with the fewest streams, the
 *   longest waiting first: max-min fairness, like BitTorrent's unchoke
 *   slots but without tit-for-tat, since every requester is a member the
 *   group's owner admitted;
 * - beyond the queues' bounds a request is refused with 429 and Retry-After.
 */
export class UploadSlots {
  readonly #options: UploadSlotsOptions;
  readonly #requesters = new Map<string, Requester>();
  #active = 0;
  #queued = 0;

  constructor(options: Partial<UploadSlotsOptions> = {}) {
    this.#options = { ...DEFAULT_UPLOAD_SLOTS, ...options };
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queued;
  }

  /**
   * Resolves with a slot once `requester` may stream (its release is
   * idempotent), or with undefined if `cancelled` fired while it waited.
   * Throws TooManyRequestsError when the queues are full.
   */
  async acquire(requester: string, cancelled: (onCancel: () => void) => void): Promise<UploadSlot | undefined> {
    let entry = this.#requesters.get(requester);
    if (!entry) this.#requesters.set(requester, (entry = { active: 0, queue: [], streams: [] }));
    const state = entry;
    if (state.queue.length === 0 && this.#mayStart(state)) {
      return this.#start(requester, state);
    }
    if (state.queue.length >= this.#options.maxQueuedPerRequester || this.#queued >= this.#options.maxQueued) {
      this.#forgetIfIdle(requester, state);
      throw new TooManyRequestsError(`too many concurrent requests from ${requester}; retry shortly`, 1, Codes.PEER_BUSY);
    }
    return new Promise<UploadSlot | undefined>((resolve) => {
      const waiter: Waiter = { admit: () => resolve(this.#start(requester, state)), since: performance.now() };
      state.queue.push(waiter);
      this.#queued++;
      cancelled(() => {
        const at = state.queue.indexOf(waiter);
        if (at < 0) return;
        state.queue.splice(at, 1);
        this.#queued--;
        this.#forgetIfIdle(requester, state);
        resolve(undefined);
      });
    });
  }

  #contended(): boolean {
    return this.#requesters.size > 1;
  }

  #mayStart(state: Requester): boolean {
    if (this.#active >= this.#options.maxStreams) return false;
    return state.active < (this.#contended() ? 1 : this.#options.maxStreamsPerRequester);
  }

  #start(requester: string, state: Requester): UploadSlot {
    state.active++;
    this.#active++;
    const stream: Stream = {};
    state.streams.push(stream);
    this.#wakeHeld(); // a second requester appeared: the first one's extra streams are held from now on
    let released = false;
    return {
      mayPump: () => {
        if (released || !this.#contended() || state.streams[0] === stream) return undefined;
        return new Promise<void>((resolve) => (stream.wake = resolve));
      },
      release: () => {
        if (released) return;
        released = true;
        state.active--;
        this.#active--;
        state.streams.splice(state.streams.indexOf(stream), 1);
        stream.wake?.();
        this.#forgetIfIdle(requester, state);
        this.#admitWaiting();
        this.#wakeHeld();
      },
    };
  }

  /** Streams held between chunks look again (the contention or their turn may have changed). */
  #wakeHeld(): void {
    for (const state of this.#requesters.values()) {
      for (const stream of state.streams) {
        const wake = stream.wake;
        stream.wake = undefined;
        wake?.();
      }
    }
  }

  /** Hands free slots to waiting requests: fewest streams first, then the longest waiting. */
  #admitWaiting(): void {
    for (;;) {
      let best: Requester | undefined;
      for (const state of this.#requesters.values()) {
        const head = state.queue[0];
        if (!head || !this.#mayStart(state)) continue;
        if (!best || state.active < best.active || (state.active === best.active && head.since < best.queue[0]!.since)) best = state;
      }
      if (!best) return;
      const waiter = best.queue.shift()!;
      this.#queued--;
      waiter.admit();
    }
  }

  #forgetIfIdle(requester: string, state: Requester): void {
    if (state.active === 0 && state.queue.length === 0 && this.#requesters.get(requester) === state) {
      this.#requesters.delete(requester);
      // One requester fewer may lift the contention: let the others use what is free.
      this.#admitWaiting();
    }
  }
}
