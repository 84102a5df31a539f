/**
 * The piece picker: a pure function of what is still needed, what each peer
 * holds and how each peer has behaved, returning the requests to make next.
 * No I/O, no timers and an injectable random source, so it can be driven by a
 * simulation of hundreds of peers in milliseconds.
 *
 * Policy:
 * - the first few pieces are random, so a new downloader quickly has
 *   something to share; after that, rarest first. Equally rare pieces are
 *   taken in a randomly jittered file order (each block of `maxRunPieces`
 *   pieces gets its index plus a random offset of up to `shuffleWindow`
 *   pieces as its key): random among
 *   neighbours, so two downloaders rarely ask for the same piece at once, yet
 *   close enough to file order that the whole-file SHA1 can follow the
 *   contiguous verified prefix instead of re-reading the file at the end;
 * - one request may cover a run of contiguous pieces from one peer (one Range
 *   request), sized to about `runSeconds` of the peer's measured throughput
 *   and never longer than a fair share of what is left; only pieces exactly
 *   as rare as the run's first piece extend it;
 * - each peer gets a window of pieces in flight sized to keep about
 *   `queueSeconds` of its measured throughput queued (bounded by min/max),
 *   and at most `maxRequestsPerPeer` requests at once: a second request
 *   hides the round trip between two runs, so a peer whose time to first
 *   byte is a small part of a run's duration (`pipelineLatencyShare`) gets one;
 * - a request is abandoned after a timeout that follows the peer's measured
 *   rate and latency and the request's size, not a constant, and its pieces
 *   become free again;
 * - endgame: once every missing piece is requested, idle capacity duplicates
 *   in-flight pieces (those due last first) on other peers; the engine keeps
 *   the first verified copy and cancels the others.
 */

export interface PeerState {
  id: string;
  /** Whether the peer holds (and serves) piece i. */
  has: (piece: number) => boolean;
  /** Smoothed throughput of one request in bytes per second; 0 when not measured yet. */
  bytesPerSecond: number;
  /** Smoothed time to first byte in ms; 0 when not measured yet. */
  latencyMs: number;
  banned: boolean;
  /** Not asked before this time (the peer answered 429/503 with Retry-After), same clock as `now`. */
  busyUntil?: number;
}

export interface InFlightRequest {
  /** First piece of the request. */
  piece: number;
  /** Contiguous pieces in the request, from `piece`; 1 when absent. */
  count?: number;
  peerId: string;
  /** When the request was made, in the same clock as `now`. */
  startedAt: number;
}

export interface PickerConfig {
  randomFirstPieces: number;
  /** Pieces in flight per peer, before and after measuring it. */
  minWindow: number;
  maxWindow: number;
  queueSeconds: number;
  maxRequestsPerPeer: number;
  /** A measured peer whose time to first byte is below this share of a run's duration gets one request at a time. */
  pipelineLatencyShare: number;
  /** Longest run of contiguous pieces in one request. */
  maxRunPieces: number;
  /** A run holds about this many seconds of the peer's measured throughput. */
  runSeconds: number;
  /** Equally rare pieces are ordered by index plus a random offset below this (per block of `maxRunPieces`). */
  shuffleWindow: number;
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
  maxWindow: 64,
  queueSeconds: 1,
  maxRequestsPerPeer: 2,
  pipelineLatencyShare: 0.25,
  maxRunPieces: 32,
  runSeconds: 0.25,
  shuffleWindow: 32,
  timeoutFactor: 4,
  minTimeoutMs: 2000,
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
  /** First piece to ask for. */
  piece: number;
  /** Contiguous pieces from `piece`, fetched in one Range request (1 for a duplicate). */
  count: number;
  /** True when the piece is already in flight elsewhere (endgame copy). */
  duplicate: boolean;
}

export interface PickResult {
  requests: PieceRequest[];
  /** Requests to cancel: too slow for their peer's measured rate, or their peer is gone or banned. */
  timedOut: InFlightRequest[];
  endgame: boolean;
}

function rateOf(peer: PeerState, config: PickerConfig): number {
  return peer.bytesPerSecond > 0 ? peer.bytesPerSecond : config.assumedBytesPerSecond;
}

/** Pieces a peer may have in flight at once. */
export function requestWindow(peer: PeerState, pieceSize: number, config: PickerConfig): number {
  const wanted = Math.ceil((rateOf(peer, config) * config.queueSeconds) / pieceSize);
  return Math.max(config.minWindow, Math.min(config.maxWindow, wanted));
}

/** Longest run of pieces worth asking of this peer in one request. */
export function runLength(peer: PeerState, pieceSize: number, config: PickerConfig): number {
  const wanted = Math.floor((rateOf(peer, config) * config.runSeconds) / pieceSize);
  return Math.max(1, Math.min(config.maxRunPieces, wanted));
}

/** Requests to keep in flight at once to this peer (see `pipelineLatencyShare`). */
export function requestLimit(peer: PeerState, pieceSize: number, config: PickerConfig): number {
  if (peer.bytesPerSecond === 0 || peer.latencyMs === 0) return config.maxRequestsPerPeer;
  const runMs = ((runLength(peer, pieceSize, config) * pieceSize) / peer.bytesPerSecond) * 1000;
  return peer.latencyMs < runMs * config.pipelineLatencyShare ? 1 : config.maxRequestsPerPeer;
}

/** How long a request of `pieces` pieces may take from this peer before it is given to another. */
export function requestTimeoutMs(peer: PeerState, pieceSize: number, pieces: number, config: PickerConfig): number {
  const expectedMs = peer.latencyMs + ((pieceSize * Math.max(1, pieces)) / rateOf(peer, config)) * 1000;
  return Math.max(config.minTimeoutMs, expectedMs * config.timeoutFactor);
}

export function pickRequests(input: PickInput): PickResult {
  const config = { ...DEFAULT_PICKER_CONFIG, ...input.config };
  const peers = new Map(input.peers.map((peer) => [peer.id, peer]));

  const timedOut: InFlightRequest[] = [];
  const live: InFlightRequest[] = [];
  for (const request of input.inFlight) {
    const peer = peers.get(request.peerId);
    const expired =
      !peer ||
      peer.banned ||
      input.now - request.startedAt > requestTimeoutMs(peer, input.pieceSize, request.count ?? 1, config);
    (expired ? timedOut : live).push(request);
  }

  const busyPieces = new Map<string, number>();
  const busyRequests = new Map<string, number>();
  /** Pieces in flight: who is fetching each, and how far into its request it is (due later = higher). */
  const copies = new Map<number, { holders: Set<string>; position: number }>();
  for (const request of live) {
    busyRequests.set(request.peerId, (busyRequests.get(request.peerId) ?? 0) + 1);
    const count = request.count ?? 1;
    for (let k = 0; k < count; k++) {
      const piece = request.piece + k;
      if (input.verified(piece)) continue;
      busyPieces.set(request.peerId, (busyPieces.get(request.peerId) ?? 0) + 1);
      let entry = copies.get(piece);
      if (!entry) copies.set(piece, (entry = { holders: new Set(), position: k }));
      entry.holders.add(request.peerId);
      entry.position = Math.min(entry.position, k);
    }
  }

  const usable = input.peers.filter((peer) => !peer.banned);
  const available = usable.filter((peer) => !(peer.busyUntil !== undefined && peer.busyUntil > input.now));
  const needed: number[] = [];
  const availability = new Int32Array(input.pieceCount);
  let missing = 0;
  for (let piece = 0; piece < input.pieceCount; piece++) {
    if (input.verified(piece)) continue;
    missing++;
    if (copies.has(piece)) continue;
    let holders = 0;
    for (const peer of usable) if (peer.has(piece)) holders++;
    if (holders === 0) continue;
    needed.push(piece);
    availability[piece] = holders;
  }

  const randomOnly = input.verifiedCount < config.randomFirstPieces;
  const order = orderPieces(needed, availability, randomOnly, config, input.random);
  // A run never takes more than a fair share of what is left, so the peers finish together.
  const fairShare = Math.max(1, Math.ceil(needed.length / Math.max(1, available.length) / 2));
  // Fast peers choose first, so they take the pieces that matter most.
  const choosers = [...available].sort((a, b) => b.bytesPerSecond - a.bytesPerSecond);
  const taken = new Uint8Array(input.pieceCount);
  const requests: PieceRequest[] = [];

  for (const peer of choosers) {
    let freePieces = requestWindow(peer, input.pieceSize, config) - (busyPieces.get(peer.id) ?? 0);
    let freeRequests = requestLimit(peer, input.pieceSize, config) - (busyRequests.get(peer.id) ?? 0);
    const longest = randomOnly ? 1 : Math.min(runLength(peer, input.pieceSize, config), fairShare);
    for (let i = 0; i < order.length && freePieces > 0 && freeRequests > 0; i++) {
      const piece = order[i]!;
      if (taken[piece] || !peer.has(piece)) continue;
      let count = 1;
      taken[piece] = 1;
      const limit = Math.min(longest, freePieces);
      for (let next = piece + 1; count < limit && next < input.pieceCount; next++, count++) {
        if (taken[next] || availability[next] !== availability[piece] || !peer.has(next)) break;
        taken[next] = 1;
      }
      requests.push({ peerId: peer.id, piece, count, duplicate: false });
      freePieces -= count;
      freeRequests--;
      busyRequests.set(peer.id, (busyRequests.get(peer.id) ?? 0) + 1);
    }
    busyPieces.set(peer.id, requestWindow(peer, input.pieceSize, config) - freePieces);
  }

  let requested = copies.size;
  for (const request of requests) requested += request.count;
  const endgame = requested > 0 && requested === missing;
  if (endgame) {
    // Pieces due last (deep in a long request) are the ones worth a second copy.
    const candidates = [...copies].sort((a, b) => b[1].position - a[1].position);
    for (const peer of choosers) {
      let freePieces = requestWindow(peer, input.pieceSize, config) - (busyPieces.get(peer.id) ?? 0);
      let freeRequests = requestLimit(peer, input.pieceSize, config) - (busyRequests.get(peer.id) ?? 0);
      for (const [piece, { holders }] of candidates) {
        if (freePieces <= 0 || freeRequests <= 0) break;
        if (holders.size >= config.endgameCopies || holders.has(peer.id) || !peer.has(piece)) continue;
        holders.add(peer.id);
        requests.push({ peerId: peer.id, piece, count: 1, duplicate: true });
        freePieces--;
        freeRequests--;
      }
    }
  }
  return { requests, timedOut, endgame };
}

function orderPieces(
  needed: number[],
  availability: Int32Array,
  randomOnly: boolean,
  config: PickerConfig,
  random: () => number,
): number[] {
  // Jitter whole blocks of a run's length, so a run is not cut short by a neighbour taken out of order.
  const block = Math.max(1, config.maxRunPieces);
  const blockJitter = new Map<number, number>();
  const jitter = (piece: number): number => {
    const index = Math.floor(piece / block);
    let value = blockJitter.get(index);
    if (value === undefined) blockJitter.set(index, (value = random() * config.shuffleWindow));
    return index * block + value;
  };
  const keyed = needed.map((piece) => ({
    piece,
    rarity: randomOnly ? 0 : availability[piece]!,
    key: randomOnly ? random() : jitter(piece),
  }));
  keyed.sort((a, b) => a.rarity - b.rarity || a.key - b.key || a.piece - b.piece);
  return keyed.map((entry) => entry.piece);
}
