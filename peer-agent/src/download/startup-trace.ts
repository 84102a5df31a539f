/**
 * Where a download's fixed cost goes: the time, in ms after the download was
 * asked for, at which it first passed each step on its way to the first
 * verified piece (issue 12, "fixed cost per download"). Each step keeps its
 * first time only, so a step reached again later (another peer, another
 * request) does not move it.
 *
 * Steps, in the order a download meets them: `peerList` (the tracker's peer
 * list and grant are back), `run` (the engine starts), `partReady` (the .part file exists at
 * its size), `request` (the first Range request is sent), `connected` (the
 * first connection to a peer is up, TLS handshake and pinned certificate
 * included), `head` (the first piece answer's head), `received` (the first
 * piece's last byte), `firstPiece` (the first piece checked and written).
 */
export class StartupTrace {
  readonly #origin: number;
  readonly #marks: Record<string, number> = {};

  /** `origin`: performance.now() when the download was asked for (now by default). */
  constructor(origin = performance.now()) {
    this.#origin = origin;
  }

  mark(step: string): void {
    this.#marks[step] ??= Math.round((performance.now() - this.#origin) * 10) / 10;
  }

  /** The steps reached so far, in the order they were reached. */
  get marks(): Record<string, number> {
    return { ...this.#marks };
  }
}
