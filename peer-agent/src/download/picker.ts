import { AGENT } from "../config.js";

/**
 * The piece picker: a pure function of what is still needed, what each peer
 * holds and how each peer has behaved, returning the requests to make next.
 * No I/O, no timers and an injectable random source, so it can be driven by a
 * simulation of hundreds of peers in milliseconds.
 *
 * Policy:
 * - the first few pieces are random, so a new downloader quickly has
 *   something to share; after that, rarest first, where a piece's rarity is
 *   the peers that hold it plus the copies of it on their way to other
 *   downloaders (`inTransit`, from the peers' pushed `sending` events): a
 *   piece a seeder is already sending to someone is about to be less rare,
 *   so the others ask the seeder for pieces it has not given out yet;
 * - equally rare pieces are taken by `rank`: a download alone keeps file
 *   order (the whole-file SHA1 then follows the verified prefix instead of
 *   re-reading the file at the end); a download in a swarm ranks pieces by
 *   its own random permutation, so downloaders that ask at the same moment
 *   rarely ask for the same piece, and hold different pieces to trade from
 *   the first second. A run still extends to the following pieces;
 * - one request may cover a run of contiguous pieces from one peer (one Range
 *   request), sized to about `runSeconds` of the peer's measured throughput
 *   and never longer than the peer's share of what is left, in proportion
 *   to its rate (so fast and slow peers finish together); only pieces
 *   exactly as rare as the run's first piece extend it;
 * - each peer gets a window of pieces in flight sized to keep about
 *   `queueSeconds` of its measured throughput queued (bounded by min/max),
 *   and at most `maxRequestsPerPeer` requests at once. The next request to a
 *   peer goes out when what it still has to send us would run dry within
 *   `pipelineRoundTrips` of its measured time to first byte: the pipe stays
 *   full at any round-trip time (the bandwidth-delay product is covered),
 *   and a near peer is not handed a second request it would only split its
 *   bandwidth with;
 * - a request is abandoned after a timeout that follows the peer's measured
 *   rate and latency and the size of what it still has to deliver, not a
 *   constant, counted from the last bytes it delivered; its pieces become
 *   free again;
 * - sequential (play while downloading): the pieces in a window ahead of the
 *   playhead (the first piece not verified) go first, in file order, so the
 *   file fills from its start; beyond the window, rarest first as above, so
 *   every peer stays busy and the download still feeds the swarm. No random
 *   first pieces then: the first piece a player needs is piece 0;
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
  /** When the peer last delivered bytes of any of our requests, same clock as `now`; never when absent. */
  deliveredAt?: number;
}

export interface InFlightRequest {
  /** First piece of the request. */
  piece: number;
  /** Contiguous pieces in the request, from `piece`; 1 when absent. */
  count?: number;
  peerId: string;
  /** When the request was made, in the same clock as `now`. */
  startedAt: number;
  /** Pieces of the request that have not arrived yet; `count` when absent. */
  remaining?: number;
  /** Bytes of the request that have not arrived yet; `remaining` whole pieces when absent. */
  bytesLeft?: number;
  /** When its last bytes arrived, same clock as `now`; none yet when absent. */
  progressAt?: number;
}

export interface PickerConfig {
  randomFirstPieces: number;
  /** Pieces in flight per peer, before and after measuring it. */
  minWindow: number;
  maxWindow: number;
  queueSeconds: number;
  maxRequestsPerPeer: number;
  /** A peer gets its next request once its requests in flight would run dry within this many of its round trips. */
  pipelineRoundTrips: number;
  /** Longest run of contiguous pieces in one request. */
  maxRunPieces: number;
  /** A run holds about this many seconds of the peer's measured throughput. */
  runSeconds: number;
  /** A request may take this many times its expected duration. */
  timeoutFactor: number;
  minTimeoutMs: number;
  /** Throughput assumed for a peer that has not been measured yet. */
  assumedBytesPerSecond: number;
  /** At most this many copies of one piece in flight during endgame. */
  endgameCopies: number;
  /** Sequential mode: pieces from the playhead on that are taken in file order before any other (16 MiB at 512 KiB). */
  sequentialWindow: number;
}

export const DEFAULT_PICKER_CONFIG: PickerConfig = AGENT.PICKER;

export interface PickInput {
  pieceCount: number;
  pieceSize: number;
  /** Whether piece i is already verified. */
  verified: (piece: number) => boolean;
  verifiedCount: number;
  inFlight: readonly InFlightRequest[];
  peers: readonly PeerState[];
  /** Copies of piece i on their way to other downloaders (see the policy above); none when absent. */
  inTransit?: (piece: number) => number;
  /**
   * Rank of each piece among equally rare ones: a random permutation for a
   * download in a swarm (see the policy above); file order when absent.
   */
  rank?: ArrayLike<number>;
  /** Play while downloading: fill the file from its start (see the policy above). */
  sequential?: boolean;
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

/**
 * New requests this peer may be sent now, given its requests in flight
 * (see `pipelineRoundTrips`): an unmeasured peer gets one, and its second
 * once the first has delivered (at a download's start every request in
 * flight is another TLS handshake and another piece sharing the sockets with
 * the first one: two per peer put the first verified piece 2–3 times later
 * than one, docs/performance.md "Fixed cost per download"); a measured one
 * gets the next request once what it still has to send us would run dry
 * within a few of its round trips.
 */
export function freeRequestSlots(
  peer: PeerState,
  inFlight: readonly InFlightRequest[],
  pieceSize: number,
  config: PickerConfig,
): number {
  const open = config.maxRequestsPerPeer - inFlight.length;
  if (open <= 0) return 0;
  if (peer.bytesPerSecond === 0 || peer.latencyMs === 0) return inFlight.length === 0 ? 1 : 0;
  let queuedBytes = 0;
  // In bytes, not whole pieces: a slow peer's last piece takes longer than a round trip to arrive,
  // and counted whole it never let the next request go out before the run ended.
  for (const request of inFlight) queuedBytes += request.bytesLeft ?? (request.remaining ?? request.count ?? 1) * pieceSize;
  const drainMs = (queuedBytes / peer.bytesPerSecond) * 1000;
  return drainMs <= peer.latencyMs * config.pipelineRoundTrips ? 1 : 0;
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
    // Timed from its last bytes, for what is left of it: a request that keeps delivering is not stalled,
    // however long it runs. (Timed from its start, a downloader short of CPU, on a busy machine, gave
    // up on live seeders whose bytes sat unread in its sockets, and dropped them after three.)
    // Nor is one whose peer is still delivering another of our requests: a busy agent sends one stream
    // per requester and queues the next (upload-slots.ts). Timed from its start, that queued request
    // expired in a crowd of 12 (389 of ~2000 requests, after 2 s with no byte), and each expiry cost a
    // connection and a TLS handshake on both sides.
    const since = Math.max(request.progressAt ?? request.startedAt, peer?.deliveredAt ?? 0);
    const left = request.progressAt === undefined ? (request.count ?? 1) : (request.remaining ?? request.count ?? 1);
    const expired = !peer || peer.banned || input.now - since > requestTimeoutMs(peer, input.pieceSize, left, config);
    (expired ? timedOut : live).push(request);
  }

  const busyPieces = new Map<string, number>();
  const flightsOf = new Map<string, InFlightRequest[]>();
  /** Pieces in flight: who is fetching each, and how far into its request it is (due later = higher). */
  const copies = new Map<number, { holders: Set<string>; position: number }>();
  for (const request of live) {
    let flights = flightsOf.get(request.peerId);
    if (!flights) flightsOf.set(request.peerId, (flights = []));
    flights.push(request);
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
  const slotsOf = (peer: PeerState) => freeRequestSlots(peer, flightsOf.get(peer.id) ?? [], input.pieceSize, config);
  // In a swarm the picker runs on every piece any peer announces; most of those runs find every peer's
  // pipe full. Those end here, before the per-piece scan and sort that make up nearly all of its cost.
  const anyPeerFree = available.some((peer) => slotsOf(peer) > 0 && requestWindow(peer, input.pieceSize, config) > (busyPieces.get(peer.id) ?? 0));
  if (!anyPeerFree) return { requests: [], timedOut, endgame: copies.size > 0 && copies.size === countMissing(input) };
  const needed: number[] = [];
  /** Holders of each needed piece plus its copies in transit to others: lower is rarer. */
  const rarity = new Int32Array(input.pieceCount);
  let missing = 0;
  for (let piece = 0; piece < input.pieceCount; piece++) {
    if (input.verified(piece)) continue;
    missing++;
    if (copies.has(piece)) continue;
    let holders = 0;
    for (const peer of usable) if (peer.has(piece)) holders++;
    if (holders === 0) continue;
    needed.push(piece);
    rarity[piece] = holders + (input.inTransit?.(piece) ?? 0);
  }

  const randomOnly = !input.sequential && input.verifiedCount < config.randomFirstPieces;
  const order = randomOnly
    ? shuffled(needed, input.random)
    : rarestFirst(needed, rarity, input.pieceCount, input.rank);
  if (input.sequential) playheadFirst(order, input, config.sequentialWindow);
  // A run never takes more than the peer's share of what is left, in proportion to its rate, so the peers finish
  // together: an equal share kept a slow peer busy with its last run long after the fast ones had finished.
  let totalRate = 0;
  for (const peer of available) totalRate += rateOf(peer, config);
  const fairShare = (peer: PeerState) => Math.max(1, Math.ceil((needed.length * rateOf(peer, config)) / Math.max(1, totalRate) / 2));
  // Fast peers choose first, so they take the pieces that matter most.
  const choosers = [...available].sort((a, b) => b.bytesPerSecond - a.bytesPerSecond);
  const taken = new Uint8Array(input.pieceCount);
  const requests: PieceRequest[] = [];

  for (const peer of choosers) {
    let freePieces = requestWindow(peer, input.pieceSize, config) - (busyPieces.get(peer.id) ?? 0);
    let freeRequests = slotsOf(peer);
    const longest = randomOnly ? 1 : Math.min(runLength(peer, input.pieceSize, config), fairShare(peer));
    for (let i = 0; i < order.length && freePieces > 0 && freeRequests > 0; i++) {
      const piece = order[i]!;
      if (taken[piece] || !peer.has(piece)) continue;
      let count = 1;
      taken[piece] = 1;
      const limit = Math.min(longest, freePieces);
      for (let next = piece + 1; count < limit && next < input.pieceCount; next++, count++) {
        if (taken[next] || rarity[next] !== rarity[piece] || !peer.has(next)) break;
        taken[next] = 1;
      }
      const request: PieceRequest = { peerId: peer.id, piece, count, duplicate: false };
      requests.push(request);
      flightsOf.set(peer.id, [...(flightsOf.get(peer.id) ?? []), asFlight(request)]);
      freePieces -= count;
      freeRequests--;
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
      let freeRequests = slotsOf(peer);
      for (const [piece, { holders }] of candidates) {
        if (freePieces <= 0 || freeRequests <= 0) break;
        if (holders.size >= config.endgameCopies || holders.has(peer.id) || !peer.has(piece)) continue;
        holders.add(peer.id);
        const request: PieceRequest = { peerId: peer.id, piece, count: 1, duplicate: true };
        requests.push(request);
        flightsOf.set(peer.id, [...(flightsOf.get(peer.id) ?? []), asFlight(request)]);
        freePieces--;
        freeRequests--;
      }
    }
  }
  return { requests, timedOut, endgame };
}

function countMissing(input: PickInput): number {
  return input.pieceCount - input.verifiedCount;
}

/** Rarest first; equally rare pieces by rank (file order without one). */
function rarestFirst(needed: number[], rarity: Int32Array, pieceCount: number, rank: ArrayLike<number> | undefined): number[] {
  // One number per piece, rarity then rank, and the piece in the low bits: a typed array sorts numerically and fast.
  const keys = new Float64Array(needed.length);
  needed.forEach((piece, i) => (keys[i] = (rarity[piece]! * pieceCount + (rank ? rank[piece]! : piece)) * pieceCount + piece));
  keys.sort();
  return Array.from(keys, (key) => key % pieceCount);
}

/** Moves the needed pieces within `window` of the playhead (the first piece not verified) to the front, in file order. */
function playheadFirst(order: number[], input: PickInput, window: number): void {
  let playhead = 0;
  while (playhead < input.pieceCount && input.verified(playhead)) playhead++;
  const end = playhead + window;
  const near = order.filter((piece) => piece < end).sort((a, b) => a - b);
  const far = order.filter((piece) => piece >= end);
  order.splice(0, order.length, ...near, ...far);
}

/** A random permutation of 0..count-1: each piece's rank for a download in a swarm. */
export function randomRanks(count: number, random: () => number): Uint32Array {
  const ranks = new Uint32Array(count);
  shuffled(Array.from({ length: count }, (_, i) => i), random).forEach((piece, rank) => (ranks[piece] = rank));
  return ranks;
}

function shuffled(pieces: number[], random: () => number): number[] {
  const order = [...pieces];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function asFlight(request: PieceRequest): InFlightRequest {
  return { piece: request.piece, count: request.count, peerId: request.peerId, startedAt: 0 };
}
