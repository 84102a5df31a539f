/**
 * Building blocks for the replication tests that replay the same events in
 * many orders: event builders, the pure rules folded over a sequence, arrival
 * orders that keep each origin in sequence, and a fresh tracker database that
 * applies batches and reports its state digest.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../../src/db/open.js";
import { groupState, mergeRegister, registerWrites, type Register } from "../../../src/replication/apply-rules.js";
import { stateDigest } from "../../../src/replication/digest.js";
import type { DomainEvent, LoggedEvent } from "../../../src/replication/events.js";
import { encodeHlc } from "../../../src/replication/hlc.js";
import { Replicator } from "../../../src/replication/replicator.js";

export const hlc = (wall: number, origin: string) => encodeHlc({ wall, logical: 0, origin });
export const at = (wall: number) => new Date(Date.UTC(2026, 10, 25, 10, 0, 0) + wall * 1000).toISOString();
export const sha = (c: string) => c.repeat(40);

export function event(origin: string, seq: number, wall: number, e: DomainEvent): LoggedEvent {
  return { ...e, origin, seq, hlc: hlc(wall, origin) } as LoggedEvent;
}

type RegisterKey = { kind: string; groupId: string; incarnation: string; fileName: string; userId: string };
const registerKey = (r: RegisterKey) => JSON.stringify([r.kind, r.groupId, r.incarnation, r.fileName, r.userId]);

/** Registers after applying events in the given order (the pure rules only). */
export function fold(events: readonly LoggedEvent[]): Map<string, Register> {
  const registers = new Map<string, Register>();
  for (const e of events) {
    for (const write of registerWrites(e)) {
      const merged = mergeRegister(registers.get(registerKey(write.key)), write);
      if (merged) registers.set(registerKey(merged), merged);
    }
  }
  return registers;
}

export function findRegister(registers: Map<string, Register>, kind: string, groupId = "", incarnation = "", fileName = "", userId = "") {
  return registers.get(registerKey({ kind, groupId, incarnation, fileName, userId }));
}

/** The group as the rules see it in these registers, or undefined when it does not exist. */
export function groupView(registers: Map<string, Register>, groupId: string) {
  const group = findRegister(registers, "group", groupId);
  const inc = group?.hlc ?? "";
  const members = [...registers.values()].filter((r) => r.kind === "member" && r.groupId === groupId && r.incarnation === inc);
  return groupState(group, findRegister(registers, "owner", groupId, inc), members);
}

/**
 * An arrival order that keeps each origin's events in sequence, as delivery
 * does: pick i takes the next event of source `picks[i]`, or of the next
 * source that still has one; whatever is left follows in source order.
 */
export function interleave(sources: readonly (readonly LoggedEvent[])[], picks: readonly number[]): LoggedEvent[] {
  const next = sources.map(() => 0);
  const order: LoggedEvent[] = [];
  for (const pick of picks) {
    for (let k = 0; k < sources.length; k++) {
      const s = (pick + k) % sources.length;
      if (next[s]! < sources[s]!.length) {
        order.push(sources[s]![next[s]!++]!);
        break;
      }
    }
  }
  sources.forEach((source, s) => order.push(...source.slice(next[s])));
  return order;
}

/** Cuts an arrival order into the batches a tracker would receive, at the given positions. */
export function cutIntoBatches(order: readonly LoggedEvent[], cuts: readonly number[]): LoggedEvent[][] {
  const batches: LoggedEvent[][] = [];
  let start = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut > start && cut < order.length) {
      batches.push(order.slice(start, cut));
      start = cut;
    }
  }
  batches.push(order.slice(start));
  return batches;
}

/** Fresh tracker databases that receive batches and answer with their state digest; `close()` removes them. */
export async function createApplier(selfId: string) {
  const dir = await mkdtemp(join(tmpdir(), "replay-"));
  let databases = 0;
  return {
    async applied(batches: readonly LoggedEvent[][]): Promise<string> {
      const db = await openDatabase(join(dir, `t${databases++}.db`));
      try {
        const replicator = new Replicator(db, { selfId, peers: [], secret: "x".repeat(32) });
        for (const batch of batches) assert.equal((await replicator.receive(batch)).gap, false);
        return await stateDigest(db);
      } finally {
        await db.$disconnect();
      }
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
