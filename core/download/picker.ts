/**
 * The piece picker: a pure function of what is still needed, what each peer
 * holds and how each peer has behaved, returning the requests to make next.
 * No I/O, no timers and an injectable random source, so it can be driven by a
 * simulation of hundreds of peers in milliseconds.
 *
 * Policy:
 * - the first few pieces are random, so a new downloader quickly has
 *   something to share; after that, rarest first, random among equals;
 * - each peer gets a request window sized to keep about `queueSeconds` of its
 *   measured throughput in flight (bounded by min/max window);
 * - a request is abandoned after a timeout that follows the peer's measured
 *   rate and latency, not a constant, and its piece becomes free again;
 * - endgame: once every missing piece is requested, idle capacity duplicates
 *   in-flight pieces on other peers; the engine keeps the first verified copy.
 */

export interface PeerState {
  id: string;
  /** Whether the peer holds (and serves) piece i. */
  has: (piece: number) => boolean;
  /** Smoothed throughput in bytes per second; 0 when not measured yet. */
  bytesPerSecond: number;
  /** Smoothed time to first byte in ms; 0 when not measured yet. */
  latencyMs: number;
  banned: boolean;
}

export interface InFlightRequest {
  piece: number;
  peerId: string;
  /** When the request was made, in the same clock as `now`. */
  startedAt: number;
}

export interface PickerConfig {
  randomFirstPieces: number;
  minWindow: number;
  maxWindow: number;
  queueSeconds: number;
  /** A request may take this many times its expected duration. */
  timeoutFactor: number;
  minTimeoutMs: number;
  /** Throughput assumed for a peer that has not been measured yet. */
  assumedBytesPerSecond: number;
  /** At most this many copies of one piece in flight during endgame. */
  endgameCopies: number;
}

export const DEFAULT_PICKER_CONFIG: PickerConfig = {
  randomFirstPieces: 4,
  minWindow: 2,
  maxWindow: 32,
  queueSeconds: 1,
  timeoutFactor: 4,
  minTimeoutMs: 3000,
  assumedBytesPerSecond: 1024 * 1024,
  endgameCopies: 2,
};

export interface PickInput {
  pieceCount: number;
  pieceSize: number;
  /** Whether piece i is already verified. */
  verified: (piece: number) => boolean;
  verifiedCount: number;
  inFlight: readonly InFlightRequest[];
  peers: readonly PeerState[];
  now: number;
  random: () => number;
  config?: Partial<PickerConfig>;
}

export interface PieceRequest {
  peerId: string;
  piece: number;
  /** True when the piece is already in flight elsewhere (endgame copy). */
  duplicate: boolean;
}

export interface PickResult {
  requests: PieceRequest[];
  /** Requests to cancel: too slow for their peer's measured rate. */
  timedOut: InFlightRequest[];
  endgame: boolean;
}

export function requestWindow(peer: PeerState, pieceSize: number, config: PickerConfig): number {
  const rate = peer.bytesPerSecond > 0 ? peer.bytesPerSecond : config.assumedBytesPerSecond;
  const wanted = Math.ceil((rate * config.queueSeconds) / pieceSize);
  return Math.max(config.minWindow, Math.min(config.maxWindow, wanted));
}

export function requestTimeoutMs(peer: PeerState, pieceSize: number, queued: number, config: PickerConfig): number {
  const rate = peer.bytesPerSecond > 0 ? peer.bytesPerSecond : config.assumedBytesPerSecond;
  // A request waits behind the others queued on the same peer.
  const expectedMs = peer.latencyMs + ((pieceSize * Math.max(1, queued)) / rate) * 1000;
  return Math.max(config.minTimeoutMs, expectedMs * config.timeoutFactor);
}

export function pickRequests(input: PickInput): PickResult {
  const config = { ...DEFAULT_PICKER_CONFIG, ...input.config };
  const peers = new Map(input.peers.map((peer) => [peer.id, peer]));

  const perPeerCount = new Map<string, number>();
  for (const request of input.inFlight) {
    perPeerCount.set(request.peerId, (perPeerCount.get(request.peerId) ?? 0) + 1);
  }
  const timedOut: InFlightRequest[] = [];
  const live: InFlightRequest[] = [];
  for (const request of input.inFlight) {
    const peer = peers.get(request.peerId);
    const expired =
      !peer ||
      peer.banned ||
      input.now - request.startedAt >
        requestTimeoutMs(peer, input.pieceSize, perPeerCount.get(request.peerId) ?? 1, config);
    (expired ? timedOut : live).push(request);
  }

  const busy = new Map<string, number>();
  const copies = new Map<number, Set<string>>();
  for (const request of live) {
    busy.set(request.peerId, (busy.get(request.peerId) ?? 0) + 1);
    let holders = copies.get(request.piece);
    if (!holders) copies.set(request.piece, (holders = new Set()));
    holders.add(request.peerId);
  }

  const usable = input.peers.filter((peer) => !peer.banned);
  const needed: number[] = [];
  const availability = new Map<number, number>();
  for (let piece = 0; piece < input.pieceCount; piece++) {
    if (input.verified(piece) || copies.has(piece)) continue;
    let holders = 0;
    for (const peer of usable) if (peer.has(piece)) holders++;
    if (holders === 0) continue;
    needed.push(piece);
    availability.set(piece, holders);
  }

  const order = orderPieces(needed, availability, input.verifiedCount < config.randomFirstPieces, input.random);
  // Fast peers choose first, so they take the pieces that matter most.
  const choosers = [...usable].sort((a, b) => b.bytesPerSecond - a.bytesPerSecond);
  const taken = new Set<number>();
  const requests: PieceRequest[] = [];

  for (const peer of choosers) {
    let free = requestWindow(peer, input.pieceSize, config) - (busy.get(peer.id) ?? 0);
    for (let i = 0; i < order.length && free > 0; i++) {
      const piece = order[i]!;
      if (taken.has(piece) || !peer.has(piece)) continue;
      taken.add(piece);
      requests.push({ peerId: peer.id, piece, duplicate: false });
      busy.set(peer.id, (busy.get(peer.id) ?? 0) + 1);
      free--;
    }
  }

  const endgame = copies.size + taken.size > 0 && everyMissingPieceRequested(input, copies, taken);
  if (endgame) {
    for (const peer of choosers) {
      let free = requestWindow(peer, input.pieceSize, config) - (busy.get(peer.id) ?? 0);
      for (const [piece, holders] of copies) {
        if (free <= 0) break;
        if (holders.size >= config.endgameCopies || holders.has(peer.id) || !peer.has(piece)) continue;
        holders.add(peer.id);
        requests.push({ peerId: peer.id, piece, duplicate: true });
        free--;
      }
    }
  }
  return { requests, timedOut, endgame };
}

function everyMissingPieceRequested(input: PickInput, copies: Map<number, Set<string>>, taken: Set<number>): boolean {
  for (let piece = 0; piece < input.pieceCount; piece++) {
    if (!input.verified(piece) && !copies.has(piece) && !taken.has(piece)) return false;
  }
  return true;
}

function orderPieces(
  needed: number[],
  availability: Map<number, number>,
  randomOnly: boolean,
  random: () => number,
): number[] {
  const keyed = needed.map((piece) => ({ piece, tie: random(), rarity: randomOnly ? 0 : availability.get(piece)! }));
  keyed.sort((a, b) => a.rarity - b.rarity || a.tie - b.tie);
  return keyed.map((entry) => entry.piece);
}
