/**
 * Copies of pieces on their way to other downloaders, as the peers we watch
 * tell us: a peer pushes a `sending` event when it starts sending a run of
 * pieces to someone else. Such a piece is about to be less rare, so the
 * picker counts each copy in transit like a holder (and asks a seeder for
 * pieces it has not given out yet instead of a second copy of one it has).
 *
 * A copy stops counting when a watched peer announces it has that piece, or
 * after `ttlMs` (the transfer may have been cancelled, or went to a peer we
 * do not watch). Pure: time is passed in.
 */
export class PiecesInTransit {
  readonly #ttlMs: number;
  /** piece -> when each copy on its way stops counting, oldest first. */
  readonly #until = new Map<number, number[]>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** A peer started sending pieces first..last (inclusive) to another downloader. */
  sending(first: number, last: number, now: number): void {
    for (let piece = first; piece <= last; piece++) {
      let copies = this.#until.get(piece);
      if (!copies) this.#until.set(piece, (copies = []));
      copies.push(now + this.#ttlMs);
    }
  }

  /** A watched peer verified `piece`: one copy in transit has landed (it now counts as a holder). */
  arrived(piece: number): void {
    const copies = this.#until.get(piece);
    if (!copies) return;
    copies.shift();
    if (copies.length === 0) this.#until.delete(piece);
  }

  /** Copies of `piece` still on their way at `now`. */
  count(piece: number, now: number): number {
    const copies = this.#until.get(piece);
    if (!copies) return 0;
    while (copies.length > 0 && copies[0]! <= now) copies.shift();
    if (copies.length === 0) this.#until.delete(piece);
    return copies.length;
  }
}
