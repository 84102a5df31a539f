import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_PICKER_CONFIG,
  freeRequestSlots,
  pickRequests,
  randomRanks,
  requestTimeoutMs,
  requestWindow,
  type InFlightRequest,
  type PeerState,
} from "../../src/download/picker.js";

const PIECE = 512 * 1024;

/** Deterministic random source (mulberry32) so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function peer(id: string, pieces: Iterable<number>, extra: Partial<PeerState> = {}): PeerState {
  const held = new Set(pieces);
  return { id, has: (p) => held.has(p), bytesPerSecond: 0, latencyMs: 0, banned: false, ...extra };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

test("pieces held by a single peer go before pieces held by many", () => {
  const verified = new Set(range(4));
  const common = range(30);
  const peers = [peer("a", common), peer("b", common), peer("c", common), peer("rare", [...common, 30, 31])];
  const { requests } = pickRequests({
    pieceCount: 32, pieceSize: PIECE, verified: (p) => verified.has(p), verifiedCount: 4,
    inFlight: [], peers: peers.map((p) => (p.id === "rare" ? { ...p, bytesPerSecond: 100e6 } : p)),
    now: 0, random: seeded(2), config: { minWindow: 2, maxWindow: 2 },
  });
  const fromRare = requests.filter((r) => r.peerId === "rare").flatMap((r) => range(r.count).map((k) => r.piece + k)).sort();
  assert.deepEqual(fromRare, [30, 31]);
});

test("a peer's request window grows with its measured throughput", () => {
  const config = DEFAULT_PICKER_CONFIG;
  const slow = requestWindow(peer("s", [], { bytesPerSecond: 256 * 1024 }), PIECE, config);
  const fast = requestWindow(peer("f", [], { bytesPerSecond: 200 * 1024 * 1024 }), PIECE, config);
  assert.equal(slow, config.minWindow);
  assert.equal(fast, config.maxWindow);
});

test("a peer gets its next request once what it still has to send would run dry within its round trip", () => {
  const config = DEFAULT_PICKER_CONFIG;
  const rate = 25 * 1024 * 1024;
  const far = peer("f", [], { bytesPerSecond: rate, latencyMs: 40 });
  const flight = (remaining: number): InFlightRequest => ({ piece: 0, count: 12, remaining, peerId: "f", startedAt: 0 });
  // 12 pieces left take 240 ms at 25 MiB/s: far more than 1.5 round trips of 40 ms.
  assert.equal(freeRequestSlots(far, [flight(12)], PIECE, config), 0);
  // 2 pieces left take 40 ms: the next request's first byte would come just as they end.
  assert.equal(freeRequestSlots(far, [flight(2)], PIECE, config), 1);
  assert.equal(freeRequestSlots(far, [flight(1), flight(1)], PIECE, config), 0, "never more than maxRequestsPerPeer");
});

test("a peer not measured yet gets one request, and a second only once the first has delivered", () => {
  const config = DEFAULT_PICKER_CONFIG;
  const fresh = peer("u", []);
  assert.equal(freeRequestSlots(fresh, [], PIECE, config), 1);
  assert.equal(freeRequestSlots(fresh, [{ piece: 0, count: 1, peerId: "u", startedAt: 0 }], PIECE, config), 0);
});

test("a nearby peer is sent one request at a time", () => {
  const fast = peer("near", range(200), { bytesPerSecond: 100 * 1024 * 1024, latencyMs: 2 });
  const { requests } = pickRequests({
    pieceCount: 200, pieceSize: PIECE, verified: () => false, verifiedCount: 10,
    inFlight: [], peers: [fast], now: 0, random: seeded(1),
  });
  assert.equal(requests.length, 1);
  const next = pickRequests({
    pieceCount: 200, pieceSize: PIECE, verified: () => false, verifiedCount: 10,
    inFlight: [{ ...requests[0]!, startedAt: 0, remaining: 1 }], peers: [fast], now: 1, random: seeded(1),
  });
  assert.equal(next.requests.length, 0, "its last piece still takes longer than its round trip");
});

test("a far peer is sent its next request before the current one runs dry", () => {
  const far = peer("far", range(200), { bytesPerSecond: 25 * 1024 * 1024, latencyMs: 40 });
  const first = pickRequests({
    pieceCount: 200, pieceSize: PIECE, verified: () => false, verifiedCount: 10,
    inFlight: [], peers: [far], now: 0, random: seeded(1),
  });
  assert.equal(first.requests.length, 1);
  const running = { ...first.requests[0]!, startedAt: 0 };
  const early = pickRequests({
    pieceCount: 200, pieceSize: PIECE, verified: () => false, verifiedCount: 10,
    inFlight: [{ ...running, remaining: running.count }], peers: [far], now: 10, random: seeded(1),
  });
  assert.equal(early.requests.length, 0);
  const late = pickRequests({
    pieceCount: 200, pieceSize: PIECE, verified: () => false, verifiedCount: 10,
    inFlight: [{ ...running, remaining: 1 }], peers: [far], now: 200, random: seeded(1),
  });
  assert.equal(late.requests.length, 1);
  assert.ok(late.requests[0]!.piece >= running.piece + running.count, "the next run follows the one in flight");
});

test("a slow peer gets its next request while the last piece of its run is still arriving, so it does not idle a round trip after each run", () => {
  // 20 Mbit/s behind 40 ms: one 512 KiB piece takes 210 ms, five round trips; 50 KiB of it are still to come (20 ms).
  const slow = peer("slow", range(100), { bytesPerSecond: 2.5e6, latencyMs: 40 });
  const running = { piece: 10, count: 1, remaining: 1, bytesLeft: 50 * 1024, peerId: "slow", startedAt: 0 };
  assert.equal(freeRequestSlots(slow, [running], PIECE, DEFAULT_PICKER_CONFIG), 1);
  assert.equal(freeRequestSlots(slow, [{ ...running, bytesLeft: PIECE }], PIECE, DEFAULT_PICKER_CONFIG), 0);
});

test("downloaders in a swarm that ask the same seeder at the same moment ask for different pieces", () => {
  // Six downloaders past their random first pieces, each knowing only the seeder (every piece equally rare).
  const pieceCount = 512;
  const seeder = peer("seed", range(pieceCount), { bytesPerSecond: 4 * 1024 * 1024, latencyMs: 1 });
  const asked: number[][] = [];
  for (let d = 0; d < 6; d++) {
    const random = seeded(100 + d);
    const held = new Set(range(4).map(() => Math.floor(random() * pieceCount)));
    const { requests } = pickRequests({
      pieceCount, pieceSize: PIECE, verified: (p) => held.has(p), verifiedCount: held.size,
      inFlight: [], peers: [seeder], rank: randomRanks(pieceCount, random), now: 0, random,
    });
    asked.push(requests.flatMap((r) => range(r.count).map((k) => r.piece + k)));
  }
  const all = asked.flat();
  assert.ok(all.length >= 6);
  const distinct = new Set(all).size;
  assert.ok(distinct >= all.length * 0.9, `${all.length} pieces asked, only ${distinct} different: ${JSON.stringify(asked)}`);
});

test("a download alone keeps file order, so its whole-file SHA1 can follow the verified prefix", () => {
  const seeders = [peer("a", range(64), { bytesPerSecond: 50 * 1024 * 1024 }), peer("b", range(64), { bytesPerSecond: 40 * 1024 * 1024 })];
  const { requests } = pickRequests({
    pieceCount: 64, pieceSize: PIECE, verified: (p) => p < 4, verifiedCount: 4,
    inFlight: [], peers: seeders, now: 0, random: seeded(3),
  });
  const firsts = requests.map((r) => r.piece).sort((x, y) => x - y);
  assert.equal(firsts[0], 4);
  let next = 4;
  for (const r of [...requests].sort((x, y) => x.piece - y.piece)) {
    assert.equal(r.piece, next, JSON.stringify(requests));
    next += r.count;
  }
});

test("a piece on its way to another downloader counts as less rare, so the seeder is asked for one it has not given out", () => {
  const seeder = peer("seed", range(8), { bytesPerSecond: 4 * 1024 * 1024, latencyMs: 1 });
  const sending = new Set([4, 5, 6]);
  const { requests } = pickRequests({
    pieceCount: 8, pieceSize: PIECE, verified: (p) => p < 4, verifiedCount: 4,
    inFlight: [], peers: [seeder], inTransit: (p) => (sending.has(p) ? 1 : 0), now: 0, random: seeded(4),
    config: { maxRequestsPerPeer: 1 },
  });
  assert.equal(requests.length, 1);
  assert.equal(requests[0]!.piece, 7);
});

test("the request timeout follows the peer's measured rate, not a constant", () => {
  const config = DEFAULT_PICKER_CONFIG;
  const slow = requestTimeoutMs(peer("s", [], { bytesPerSecond: 10 * 1024 }), PIECE, 1, config);
  const fast = requestTimeoutMs(peer("f", [], { bytesPerSecond: 100 * 1024 * 1024 }), PIECE, 1, config);
  assert.ok(slow > 100_000, `slow peer timeout ${slow}`);
  assert.equal(fast, config.minTimeoutMs);
});

test("a stalled request is handed back once its timeout has passed", () => {
  const peers = [peer("stall", [0, 1], { bytesPerSecond: 1024 * 1024 }), peer("ok", [0, 1])];
  const inFlight: InFlightRequest[] = [{ piece: 0, peerId: "stall", startedAt: 0 }];
  const { timedOut } = pickRequests({
    pieceCount: 2, pieceSize: PIECE, verified: () => false, verifiedCount: 0,
    inFlight, peers, now: 60_000, random: seeded(3),
  });
  assert.deepEqual(timedOut, inFlight);
});

test("a request whose bytes keep arriving is not handed back, however long it has run", () => {
  const peers = [peer("busy", [0, 1, 2, 3], { bytesPerSecond: 1024 * 1024, latencyMs: 10 }), peer("ok", [0, 1, 2, 3])];
  const running: InFlightRequest = { piece: 0, count: 4, remaining: 1, peerId: "busy", startedAt: 0, progressAt: 59_900 };
  const { timedOut } = pickRequests({
    pieceCount: 4, pieceSize: PIECE, verified: () => false, verifiedCount: 0,
    inFlight: [running], peers, now: 60_000, random: seeded(3),
  });
  assert.deepEqual(timedOut, []);
  const stopped = pickRequests({
    pieceCount: 4, pieceSize: PIECE, verified: () => false, verifiedCount: 0,
    inFlight: [{ ...running, progressAt: 1000 }], peers, now: 60_000, random: seeded(3),
  });
  assert.equal(stopped.timedOut.length, 1, "one that stopped delivering is");
});

test("a request waiting its turn behind another one the same peer is still delivering is not handed back", () => {
  const input = (deliveredAt: number | undefined) => ({
    pieceCount: 2, pieceSize: PIECE, verified: () => false, verifiedCount: 0,
    inFlight: [{ piece: 1, peerId: "busy", startedAt: 0 }],
    peers: [peer("busy", [0, 1], { bytesPerSecond: 1024 * 1024, latencyMs: 10, deliveredAt }), peer("ok", [0, 1])],
    now: 60_000, random: seeded(3),
  });
  assert.deepEqual(pickRequests(input(59_900)).timedOut, []);
  assert.equal(pickRequests(input(1000)).timedOut.length, 1, "once the peer has delivered nothing for its timeout, it is");
  assert.equal(pickRequests(input(undefined)).timedOut.length, 1, "as when it never delivered");
});

test("a banned peer is never asked", () => {
  const peers = [peer("bad", range(10), { banned: true, bytesPerSecond: 1e9 }), peer("good", range(10))];
  const { requests } = pickRequests({
    pieceCount: 10, pieceSize: PIECE, verified: () => false, verifiedCount: 0,
    inFlight: [], peers, now: 0, random: seeded(4),
  });
  assert.ok(requests.length > 0);
  assert.ok(requests.every((r) => r.peerId === "good"));
});

test("in endgame the last pieces are also requested from other peers, at most twice", () => {
  const peers = [peer("a", [0, 1]), peer("b", [0, 1]), peer("c", [0, 1])];
  const inFlight: InFlightRequest[] = [{ piece: 1, peerId: "a", startedAt: 0 }];
  const { requests, endgame } = pickRequests({
    pieceCount: 2, pieceSize: PIECE, verified: (p) => p === 0, verifiedCount: 1,
    inFlight, peers, now: 1, random: seeded(5),
  });
  assert.equal(endgame, true);
  assert.equal(requests.length, 1);
  assert.equal(requests[0]!.piece, 1);
  assert.equal(requests[0]!.duplicate, true);
  assert.notEqual(requests[0]!.peerId, "a");
});

interface SimPeer extends PeerState {
  /** Fraction of pieces it corrupts. */
  corrupts: number;
  stalls: boolean;
  failures: number;
  speed: number;
}

/**
 * Simulates a swarm: peers of different speeds and holdings, some lying,
 * some stalling, driven by the picker in discrete 50 ms steps. Checks the
 * picker's promises at every step and returns what it saw.
 */
function simulate(seed: number, peerCount: number, pieceCount: number, liars = 0.05) {
  const random = seeded(seed);
  const peers: SimPeer[] = range(peerCount).map((i) => {
    const held = new Set(range(pieceCount).filter(() => random() < 0.3));
    return {
      id: `p${i}`, has: (p: number) => held.has(p), bytesPerSecond: 0, latencyMs: 0, banned: false,
      corrupts: random() < liars ? 0.5 : 0, stalls: random() < 0.05, failures: 0,
      speed: 256 * 1024 + random() * 50 * 1024 * 1024,
    };
  });
  // Guarantee one honest, live holder of every piece: the download must be able to finish.
  const honestPeers = peers.filter((p) => !p.stalls && p.corrupts === 0);
  const honest = honestPeers[0]!;
  const honestHeld = new Set(range(pieceCount).filter((p) => honestPeers.some((h) => h.has(p))));
  const extra = new Set(range(pieceCount).filter((p) => !honestHeld.has(p)));
  const heldBefore = honest.has;
  honest.has = (p) => heldBefore(p) || extra.has(p);
  const byId = new Map(peers.map((p) => [p.id, p]));

  const verified = new Set<number>();
  let inFlight: (InFlightRequest & { count: number; doneAt: number })[] = [];
  const requestsTo = new Map<string, number>();
  const violations: string[] = [];
  let now = 0;
  let steps = 0;
  let endgameSeen = false;
  while (verified.size < pieceCount && steps < 20_000) {
    steps++;
    now += 50;
    // Finish transfers due by now; a liar corrupts each piece of a run with its probability.
    const still: typeof inFlight = [];
    for (const request of inFlight) {
      if (request.doneAt > now) { still.push(request); continue; }
      const source = byId.get(request.peerId)!;
      source.bytesPerSecond = source.speed;
      for (let k = 0; k < request.count; k++) {
        const piece = request.piece + k;
        if (verified.has(piece)) continue; // an endgame copy that lost
        if (random() < source.corrupts) {
          source.failures++;
          if (source.failures >= 3) source.banned = true;
          continue;
        }
        verified.add(piece);
      }
    }
    inFlight = still;
    const result = pickRequests({
      pieceCount, pieceSize: PIECE, verified: (p) => verified.has(p), verifiedCount: verified.size,
      inFlight, peers, now, random,
    });
    const expired = new Set(result.timedOut);
    inFlight = inFlight.filter((r) => !expired.has(r));
    endgameSeen ||= result.endgame;

    const covered = (piece: number) => inFlight.some((r) => piece >= r.piece && piece < r.piece + r.count && !verified.has(piece));
    const requestedNow = new Set<number>();
    for (const request of result.requests) for (let k = 0; k < request.count; k++) requestedNow.add(request.piece + k);
    // Rarest first: a peer never takes a piece while a rarer one it holds is left unrequested.
    if (verified.size >= DEFAULT_PICKER_CONFIG.randomFirstPieces) {
      const availability = (piece: number) => peers.filter((p) => !p.banned && p.has(piece)).length;
      for (const request of result.requests.filter((r) => !r.duplicate)) {
        const source = byId.get(request.peerId)!;
        const rarestLeft = Math.min(...range(pieceCount)
          .filter((p) => !verified.has(p) && !covered(p) && !requestedNow.has(p) && source.has(p))
          .map(availability));
        if (availability(request.piece) > rarestLeft) {
          violations.push(`${source.id} took piece ${request.piece} (held by ${availability(request.piece)}) before one held by ${rarestLeft}`);
        }
      }
    }
    for (const request of result.requests) {
      const source = byId.get(request.peerId)!;
      for (let k = 0; k < request.count; k++) {
        const piece = request.piece + k;
        if (!source.has(piece)) violations.push(`${source.id} asked for piece ${piece} it does not hold`);
        if (source.banned) violations.push(`banned ${source.id} asked for ${piece}`);
        if (verified.has(piece)) violations.push(`verified piece ${piece} requested again`);
        if (!request.duplicate && covered(piece)) violations.push(`piece ${piece} requested twice outside endgame`);
      }
      if (request.duplicate && !result.endgame) violations.push(`duplicate of ${request.piece} outside endgame`);
      requestsTo.set(source.id, (requestsTo.get(source.id) ?? 0) + 1);
      const doneAt = source.stalls ? Number.POSITIVE_INFINITY : now + ((PIECE * request.count) / source.speed) * 1000 + 10;
      inFlight.push({ piece: request.piece, count: request.count, peerId: source.id, startedAt: now, doneAt });
    }
  }
  return { verified, violations, steps, peers, requestsTo, endgameSeen };
}

test("simulated swarms of hundreds of peers with liars and stallers always complete, every piece verified", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const { verified, steps } = simulate(seed, 300, 120);
    assert.equal(verified.size, 120, `seed ${seed} finished ${verified.size}/120 in ${steps} steps`);
  }
});

test("in simulated swarms no piece is asked twice outside endgame, rare pieces go first and banned peers are never asked", () => {
  // Few peers and many pieces, so pieces are left unrequested at each step and order matters.
  for (const [seed, peerCount, pieceCount] of [[36, 200, 100], [7, 20, 400], [8, 12, 600]] as const) {
    const { violations, peers, endgameSeen } = simulate(seed, peerCount, pieceCount, 0.3);
    assert.deepEqual(violations.slice(0, 5), [], `seed ${seed}`);
    assert.ok(peers.some((p) => p.banned), `seed ${seed} banned no liar, so the ban rule was not exercised`);
    assert.ok(endgameSeen, `seed ${seed} never reached endgame`);
  }
});

test("a simulated download spreads its requests over many peers", () => {
  const { requestsTo } = simulate(9, 200, 200);
  assert.ok(requestsTo.size >= 10, `only ${requestsTo.size} peers used`);
});

test("contiguous pieces from one peer are asked for in one request, up to the run length its speed earns", () => {
  const peers = [peer("fast", range(64), { bytesPerSecond: 200 * 1024 * 1024 })];
  const { requests } = pickRequests({
    pieceCount: 64, pieceSize: PIECE, verified: (p) => p < 4, verifiedCount: 4,
    inFlight: [], peers, now: 0, random: seeded(10),
  });
  assert.ok(requests.length >= 1);
  assert.ok(requests.every((r) => r.count > 1), JSON.stringify(requests));
  const slow = pickRequests({
    pieceCount: 64, pieceSize: PIECE, verified: (p) => p < 4, verifiedCount: 4,
    inFlight: [], peers: [peer("slow", range(64), { bytesPerSecond: 256 * 1024 })], now: 0, random: seeded(10),
  });
  assert.ok(slow.requests.every((r) => r.count === 1), JSON.stringify(slow.requests));
});

test("a peer that answered busy is not asked until its Retry-After has passed", () => {
  const peers = [peer("busy", range(8), { busyUntil: 5000 }), peer("idle", [0])];
  const early = pickRequests({ pieceCount: 8, pieceSize: PIECE, verified: () => false, verifiedCount: 0, inFlight: [], peers, now: 1000, random: seeded(11) });
  assert.ok(early.requests.every((r) => r.peerId === "idle"));
  const later = pickRequests({ pieceCount: 8, pieceSize: PIECE, verified: () => false, verifiedCount: 0, inFlight: [], peers, now: 6000, random: seeded(11) });
  assert.ok(later.requests.some((r) => r.peerId === "busy"));
});

test("near the end a fast peer takes a run in proportion to its rate, not an equal share with a slow one", () => {
  // 40 pieces left, a 50 MB/s peer and a 2.5 MB/s one (scenario 2's fastest and slowest seeders): the fast one
  // delivers 20 times as much in the time left, so an equal share would end its runs early and cost a round trip each.
  const left = 40;
  const peers = [
    peer("fast", range(64), { bytesPerSecond: 50e6, latencyMs: 40 }),
    peer("slow", range(64), { bytesPerSecond: 2.5e6, latencyMs: 40 }),
  ];
  const { requests } = pickRequests({
    pieceCount: 64, pieceSize: PIECE, verified: (p) => p < 64 - left, verifiedCount: 64 - left,
    inFlight: [], peers, now: 0, random: seeded(11),
  });
  const fast = requests.filter((r) => r.peerId === "fast");
  const slow = requests.filter((r) => r.peerId === "slow");
  assert.equal(fast.length, 1, JSON.stringify(requests));
  assert.ok(fast[0]!.count >= 16, `the fast peer's run: ${fast[0]!.count} pieces`);
  assert.ok(slow.every((r) => r.count === 1), JSON.stringify(slow));
});
