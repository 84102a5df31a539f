/**
 * Hybrid logical clock. A timestamp is the wall clock in ms, a logical counter
 * that orders events within one ms (or while the wall clock lags a remote
 * one), and the origin tracker's id as the tie-break. Encoded with fixed-width
 * numbers, so comparing the strings compares the timestamps: the order is total
 * and the same on every tracker.
 */
export interface HlcTimestamp {
  wall: number;
  logical: number;
  origin: string;
}

const WALL_DIGITS = 15;
const LOGICAL_DIGITS = 6;

export function encodeHlc(t: HlcTimestamp): string {
  return `${String(t.wall).padStart(WALL_DIGITS, "0")}-${String(t.logical).padStart(LOGICAL_DIGITS, "0")}-${t.origin}`;
}

export function decodeHlc(text: string): HlcTimestamp {
  const match = /^(\d{15})-(\d{6})-(.+)$/.exec(text);
  if (!match) throw new Error(`not an HLC timestamp: "${text}"`);
  return { wall: Number(match[1]), logical: Number(match[2]), origin: match[3]! };
}

export function isHlc(text: unknown): text is string {
  return typeof text === "string" && /^\d{15}-\d{6}-.+$/.test(text);
}

/** A clock owned by one tracker; `now` is injected for tests. */
export class HybridClock {
  #wall = 0;
  #logical = 0;

  constructor(
    readonly origin: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** A timestamp for a local event, greater than every one issued or received before. */
  tick(): string {
    const physical = this.now();
    if (physical > this.#wall) {
      this.#wall = physical;
      this.#logical = 0;
    } else {
      this.#logical += 1;
    }
    return encodeHlc({ wall: this.#wall, logical: this.#logical, origin: this.origin });
  }

  /** Moves the clock past a timestamp received from another tracker. */
  observe(remote: string): void {
    const { wall, logical } = decodeHlc(remote);
    if (wall > this.#wall || (wall === this.#wall && logical > this.#logical)) {
      this.#wall = wall;
      this.#logical = logical;
    }
  }
}
