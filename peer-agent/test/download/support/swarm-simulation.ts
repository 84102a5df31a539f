/**
 * A swarm as data: seeders and downloaders with capped uploads, driven by the
 * real piece picker in small time steps. No I/O, no timers: 256 MiB across 7
 * peers simulates in well under a second, so tests can ask how close to the
 * ideal a policy gets.
 *
 * What is modelled: each peer's upload is shared equally by the transfers it
 * is sending (as TCP shares a capped link); a request's first byte comes one
 * round trip after it is made; a piece counts once its last byte arrived;
 * what a downloader knows of another downloader's pieces comes either from
 * pushed `have` events (after `pushDelayMs`) or from polling its bitfield
 * every `pollIntervalMs`; a peer that starts sending a run pushes a `sending`
 * event to its other subscribers when `sendingEvents` is on. Hashing,
 * disks and download caps are not modelled.
 */
import { Bitfield } from "../../../../core/bitfield.js";
import { PiecesInTransit } from "../../../src/download/in-transit.js";
import { pickRequests, randomRanks, type InFlightRequest, type PeerState, type PickerConfig } from "../../../src/download/picker.js";

export interface SwarmScenario {
  pieceCount: number;
  pieceSize: number;
  seeders: number;
  downloaders: number;
  /** Every peer's upload cap. */
  uploadBytesPerSecond: number;
  roundTripMs: number;
  /** How late a pushed event reaches a subscriber; Infinity: nothing is pushed, bitfields are polled. */
  pushDelayMs: number;
  /** How often a downloader re-reads the bitfields of the downloaders it knows when nothing is pushed. */
  pollIntervalMs: number;
  /** Peers tell their subscribers which pieces they start sending to others. */
  sendingEvents: boolean;
  /** Downloaders that know of other downloaders rank equally rare pieces by a random permutation of their own. */
  spreadOrder: boolean;
  picker?: Partial<PickerConfig>;
  random: () => number;
  stepMs?: number;
  /** Give up after this much simulated time. */
  limitMs?: number;
}

export interface SwarmOutcome {
  /** When each downloader verified its last piece, ms from the start. */
  finishedMs: number[];
  /** Bytes the seeders uploaded, in copies of the file. */
  seederCopies: number;
  /** Share of the downloaders' bytes that came from other downloaders. */
  fromDownloaders: number;
  /** The P2P ideal: one copy of the file through one peer's upload. */
  idealMs: number;
}

interface SimPeer {
  id: string;
  seeder: boolean;
  have: Bitfield;
  /** What this peer believes each other peer holds. */
  views: Map<string, Bitfield>;
  measured: Map<string, { bytesPerSecond: number }>;
  transit: PiecesInTransit;
  rank?: Uint32Array;
  doneAt?: number;
  /** Something it knows changed since it last ran the picker. */
  dirty: boolean;
  uploaded: number;
  received: number;
  receivedFromDownloaders: number;
}

interface Transfer extends InFlightRequest {
  from: SimPeer;
  to: SimPeer;
  count: number;
  next: number;
  filled: number;
  firstByteAt: number;
  remaining: number;
}

interface Pending {
  at: number;
  deliver: () => void;
}

export function simulateSwarm(scenario: SwarmScenario): SwarmOutcome {
  const { pieceCount, pieceSize, random } = scenario;
  const stepMs = scenario.stepMs ?? 5;
  const limitMs = scenario.limitMs ?? 600_000;
  const peers: SimPeer[] = [];
  const make = (id: string, seeder: boolean): SimPeer => ({
    id,
    seeder,
    have: seeder ? Bitfield.full(pieceCount) : new Bitfield(pieceCount),
    views: new Map(),
    measured: new Map(),
    transit: new PiecesInTransit(10_000),
    dirty: true,
    uploaded: 0,
    received: 0,
    receivedFromDownloaders: 0,
  });
  for (let i = 0; i < scenario.seeders; i++) peers.push(make(`seed${i}`, true));
  for (let i = 0; i < scenario.downloaders; i++) peers.push(make(`down${i}`, false));
  const downloaders = peers.filter((peer) => !peer.seeder);
  const byId = new Map(peers.map((peer) => [peer.id, peer]));
  for (const peer of downloaders) {
    for (const other of peers) if (other !== peer) peer.views.set(other.id, other.seeder ? Bitfield.full(pieceCount) : new Bitfield(pieceCount));
    // Every downloader learns of the others at once (peer exchange through the seeder), so it spreads its order.
    if (scenario.spreadOrder && scenario.downloaders > 1) peer.rank = randomRanks(pieceCount, random);
  }

  let transfers: Transfer[] = [];
  // Every event is delayed by the same pushDelayMs, so they fall due in the order they were pushed.
  const pending: Pending[] = [];
  let nextDue = 0;
  const push = (at: number, deliver: () => void) => {
    if (Number.isFinite(at)) pending.push({ at, deliver });
  };
  let now = 0;
  let lastPoll = 0;

  const verify = (peer: SimPeer, piece: number) => {
    if (peer.have.has(piece)) return;
    peer.have.set(piece);
    peer.dirty = true;
    if (peer.have.complete) peer.doneAt = now;
    for (const watcher of downloaders) {
      if (watcher === peer) continue;
      push(now + scenario.pushDelayMs, () => {
        watcher.views.get(peer.id)!.set(piece);
        watcher.transit.arrived(piece);
        watcher.dirty = true;
      });
    }
  };

  while (downloaders.some((peer) => peer.doneAt === undefined) && now < limitMs) {
    now += stepMs;
    while (nextDue < pending.length && pending[nextDue]!.at <= now) pending[nextDue++]!.deliver();
    if (!Number.isFinite(scenario.pushDelayMs) && now - lastPoll >= scenario.pollIntervalMs) {
      lastPoll = now;
      for (const watcher of downloaders) {
        for (const other of downloaders) if (other !== watcher) watcher.views.set(other.id, new Bitfield(pieceCount, other.have.bytes));
        watcher.dirty = true;
      }
    }

    // Each uploader's cap is shared by the transfers it is sending now.
    const sendingBy = new Map<SimPeer, Transfer[]>();
    for (const transfer of transfers) {
      if (transfer.firstByteAt > now) continue;
      const list = sendingBy.get(transfer.from);
      if (list) list.push(transfer);
      else sendingBy.set(transfer.from, [transfer]);
    }
    for (const [uploader, sending] of sendingBy) {
      const share = (scenario.uploadBytesPerSecond * stepMs) / 1000 / sending.length;
      for (const transfer of sending) {
        let budget = share;
        while (budget > 0 && transfer.remaining > 0) {
          const take = Math.min(budget, pieceSize - transfer.filled);
          transfer.filled += take;
          budget -= take;
          uploader.uploaded += take;
          transfer.to.received += take;
          if (!uploader.seeder) transfer.to.receivedFromDownloaders += take;
          if (transfer.filled < pieceSize) break;
          verify(transfer.to, transfer.next);
          transfer.next++;
          transfer.remaining--;
          transfer.filled = 0;
        }
      }
    }
    // Finished runs are measured; runs whose remaining pieces arrived elsewhere are cancelled.
    const still: Transfer[] = [];
    for (const transfer of transfers) {
      let useless = transfer.remaining > 0;
      for (let piece = transfer.next; piece < transfer.piece + transfer.count && useless; piece++) useless = transfer.to.have.has(piece);
      if (transfer.remaining === 0 || useless) transfer.to.dirty = true;
      if (transfer.remaining === 0) {
        const seconds = (now - transfer.startedAt) / 1000;
        const rate = (transfer.count * pieceSize) / Math.max(seconds, stepMs / 1000);
        const measured = transfer.to.measured.get(transfer.from.id);
        transfer.to.measured.set(transfer.from.id, { bytesPerSecond: measured ? measured.bytesPerSecond * 0.7 + rate * 0.3 : rate });
      } else if (!useless) {
        still.push(transfer);
      }
    }
    transfers = still;

    // The engine runs the picker when something happened, and on a slow tick (for timeouts).
    const tick = now % 100 === 0;
    for (const peer of downloaders) {
      if (peer.doneAt !== undefined || !(peer.dirty || tick)) continue;
      peer.dirty = false;
      const mine = transfers.filter((t) => t.to === peer);
      const states: PeerState[] = peers
        .filter((other) => other !== peer)
        .map((other) => ({
          id: other.id,
          has: (piece: number) => peer.views.get(other.id)!.has(piece),
          bytesPerSecond: peer.measured.get(other.id)?.bytesPerSecond ?? 0,
          latencyMs: peer.measured.has(other.id) ? scenario.roundTripMs : 0,
          banned: false,
        }));
      const result = pickRequests({
        pieceCount,
        pieceSize,
        verified: (piece) => peer.have.has(piece),
        verifiedCount: peer.have.count,
        inFlight: mine,
        peers: states,
        inTransit: (piece) => peer.transit.count(piece, now),
        rank: peer.rank,
        now,
        random,
        config: scenario.picker,
      });
      const expired = new Set(result.timedOut);
      transfers = transfers.filter((t) => !expired.has(t));
      for (const request of result.requests) {
        const from = byId.get(request.peerId)!;
        transfers.push({
          piece: request.piece,
          count: request.count,
          peerId: from.id,
          startedAt: now,
          from,
          to: peer,
          next: request.piece,
          filled: 0,
          firstByteAt: now + scenario.roundTripMs,
          remaining: request.count,
        });
        if (scenario.sendingEvents) {
          for (const watcher of downloaders) {
            if (watcher === peer || watcher === from) continue;
            push(now + scenario.pushDelayMs, () => {
              watcher.transit.sending(request.piece, request.piece + request.count - 1, now);
              watcher.dirty = true;
            });
          }
        }
      }
    }
  }

  const fileBytes = pieceCount * pieceSize;
  const seederBytes = peers.filter((peer) => peer.seeder).reduce((sum, peer) => sum + peer.uploaded, 0);
  const received = downloaders.reduce((sum, peer) => sum + peer.received, 0);
  const fromDownloaders = downloaders.reduce((sum, peer) => sum + peer.receivedFromDownloaders, 0);
  return {
    finishedMs: downloaders.map((peer) => peer.doneAt ?? Number.POSITIVE_INFINITY),
    seederCopies: seederBytes / fileBytes,
    fromDownloaders: received > 0 ? fromDownloaders / received : 0,
    idealMs: (fileBytes / scenario.uploadBytesPerSecond) * 1000,
  };
}
