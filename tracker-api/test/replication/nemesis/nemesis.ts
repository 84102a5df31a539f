/**
 * The faults of a nemesis run, at random times from the run's seed: kill -9
 * and restart a tracker, SIGSTOP and SIGCONT one, wipe one's data directory
 * (kill -9, rm -rf, start again on an empty database), and cut or heal the
 * replication link between two trackers (the test switch, set on both ends).
 * At most NEMESIS.maxActive faults at once; each ends after a while, and
 * `healAll` ends them all.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { request } from "undici";
import { sign } from "../../../src/replication/signing.js";
import { SECRET, type Cluster } from "../cluster.js";
import type { FaultKind, History } from "./history.js";
import type { Rng } from "./rng.js";

/** The faults a run may start (each is ended by its opposite: restart, thaw, heal). */
export type NemesisFault = "kill" | "freeze" | "wipe" | "cut";
export const ALL_FAULTS: readonly NemesisFault[] = ["kill", "freeze", "wipe", "cut"];

export const NEMESIS = Object.freeze({
  /** Time between two fault changes: long enough for failovers and pushes to happen in between. */
  intervalMs: [400, 2500] as const,
  /** Faults at once: two lets a cut meet a kill, or two trackers be down with one left to write to. */
  maxActive: 2,
  /** A control call (test switch, heads) to a tracker that does not answer within this is given up. */
  controlTimeoutMs: 5000,
});

interface ActiveFault {
  kind: NemesisFault;
  targets: number[];
}

export class Nemesis {
  readonly active: ActiveFault[] = [];
  /** Links cut, as "a-b" with a < b; applied again to a tracker that restarts or resumes. */
  readonly #cuts = new Set<string>();
  readonly #down = new Set<number>();
  readonly #frozen = new Set<number>();
  /** Restarts in progress: a tracker takes seconds to start, and the nemesis goes on meanwhile. */
  readonly #starting = new Map<number, Promise<void>>();

  constructor(
    readonly cluster: Cluster,
    readonly rng: Rng,
    readonly history: History,
    readonly faults: readonly NemesisFault[],
    private readonly log: (line: string) => void = () => {},
  ) {
    for (const tracker of cluster.trackers) this.#watch(tracker.number);
  }

  /** Trackers the nemesis is killing: any other exit is a crash, recorded, and ended by a restart like a kill. */
  readonly #killing = new Set<number>();
  readonly crashes: { tracker: number; output: string }[] = [];
  #retired = false;

  /** From now on the cluster is being stopped: exits are expected. */
  retire(): void {
    this.#retired = true;
  }

  #watch(n: number): void {
    const child = this.cluster.tracker(n).child;
    child?.once("exit", (code, signal) => {
      if (this.#killing.has(n) || this.#retired) return;
      const output = this.cluster.tracker(n).output.slice(-3000);
      this.crashes.push({ tracker: n, output });
      this.history.fault("crashed", [n], `exit ${code ?? signal}`);
      this.log(`nemesis: t${n} CRASHED (exit ${code ?? signal}):\n${output}`);
      this.cluster.tracker(n).child = undefined;
      this.#down.add(n);
      this.#frozen.delete(n);
      this.active.push({ kind: "kill", targets: [n] });
    });
  }

  async #kill(n: number): Promise<void> {
    this.#killing.add(n);
    try {
      await this.cluster.kill(n);
    } finally {
      this.#killing.delete(n);
    }
    this.#down.add(n);
  }

  async run(stopped: () => boolean): Promise<void> {
    if (this.faults.length === 0) return;
    while (!stopped()) {
      await sleep(this.rng.between(...NEMESIS.intervalMs));
      if (stopped()) break;
      const start = this.active.length === 0 || (this.active.length < NEMESIS.maxActive && this.rng.next() < 0.5);
      if (start) await this.#start();
      else await this.#end(this.active.splice(this.rng.between(0, this.active.length - 1), 1)[0]!);
    }
  }

  /** Ends every fault: every tracker running, resumed and linked to every other. */
  async healAll(): Promise<void> {
    while (this.active.length > 0) await this.#end(this.active.shift()!);
    await Promise.all(this.#starting.values());
  }

  #available(): number[] {
    return this.cluster.trackers.map((t) => t.number).filter((n) => !this.#down.has(n) && !this.#frozen.has(n) && !this.#starting.has(n));
  }

  async #start(): Promise<void> {
    const available = this.#available();
    const feasible = this.faults.filter((kind) => {
      if (kind === "cut") return this.#uncutPairs(available).length > 0;
      // Keep one tracker to write to; a wipe also needs the two others up, to check it loses nothing acknowledged.
      if (kind === "wipe") return available.length === this.cluster.trackers.length;
      return available.length > 1;
    });
    if (feasible.length === 0) return;
    const kind = this.rng.pick(feasible);
    if (kind === "cut") {
      const [a, b] = this.rng.pick(this.#uncutPairs(available));
      this.#cuts.add(`${a}-${b}`);
      this.history.fault("cut", [a, b]);
      this.log(`nemesis: cut t${a}-t${b}`);
      this.active.push({ kind, targets: [a, b] });
      await Promise.all([this.#syncSwitch(a), this.#syncSwitch(b)]);
      return;
    }
    const target = this.rng.pick(available);
    if (kind === "freeze") {
      this.cluster.freeze(target);
      this.#frozen.add(target);
      this.history.fault("freeze", [target]);
    } else if (kind === "kill") {
      await this.#kill(target);
      this.history.fault("kill", [target]);
    } else {
      await this.#wipe(target);
    }
    this.log(`nemesis: ${this.history.faults.at(-1)!.kind} t${target}`);
    this.active.push({ kind, targets: [target] });
  }

  async #end(fault: ActiveFault): Promise<void> {
    const [a, b] = fault.targets as [number, number];
    const kind: FaultKind = fault.kind === "cut" ? "heal" : fault.kind === "freeze" ? "thaw" : "restart";
    // Recorded when done, before waiting for the switches: the history keeps the time of the fault itself.
    this.history.fault(kind, fault.targets);
    this.log(`nemesis: ${kind} ${fault.targets.map((t) => `t${t}`).join("-")}`);
    if (fault.kind === "cut") {
      this.#cuts.delete(`${a}-${b}`);
      await Promise.all([this.#syncSwitch(a), this.#syncSwitch(b)]);
    } else if (fault.kind === "freeze") {
      this.cluster.thaw(a);
      this.#frozen.delete(a);
      await this.#syncSwitch(a);
    } else {
      // A wiped tracker recovers in the background (it refuses writes with 503 meanwhile); nobody waits for it.
      this.#down.delete(a);
      const started = this.cluster.startTracker(a, { waitRecovered: false }).then(
        () => {
          this.#starting.delete(a);
          this.#watch(a);
          return this.#syncSwitch(a);
        },
        (error: Error) => {
          this.history.fault("crashed", [a], `did not start: ${error.message.slice(0, 3000)}`);
          throw error;
        },
      );
      this.#starting.set(a, started);
      // A failed start surfaces in healAll (the run then fails); until then nothing else may touch this tracker.
      started.catch(() => {});
    }
  }

  /**
   * kill -9, then rm -rf of the data directory, but only when every event the
   * tracker holds is also on another tracker: a write is acknowledged after
   * at most PUSH_WAIT_MS of waiting for the others (replication is
   * asynchronous by design), so a disk lost before its push is a documented
   * loss, not one this test looks for. Otherwise it stays a plain kill.
   */
  async #wipe(target: number): Promise<void> {
    this.cluster.freeze(target);
    await this.#kill(target);
    const dataDir = this.cluster.dataDir(target);
    const own = readHeads(join(dataDir, "tracker.db"));
    const others = await Promise.all(
      this.cluster.trackers.filter((t) => t.number !== target).map((t) => signedHeads(t.url).catch(() => ({}) as Record<string, number>)),
    );
    const missing = Object.entries(own).filter(([origin, seq]) => Math.max(0, ...others.map((h) => h[origin] ?? 0)) < seq);
    if (missing.length > 0) {
      this.history.fault("kill", [target], `wipe not done: events only here: ${missing.map(([o, s]) => `${o}@${s}`).join(", ")}`);
      return;
    }
    await rm(dataDir, { recursive: true, force: true });
    this.history.fault("wipe", [target]);
  }

  #uncutPairs(available: number[]): [number, number][] {
    const pairs: [number, number][] = [];
    for (const a of available) for (const b of available) if (a < b && !this.#cuts.has(`${a}-${b}`)) pairs.push([a, b]);
    return pairs;
  }

  /** Sets tracker `n`'s switch to the cuts wanted now (a no-op for a tracker that is down or frozen: done when it comes back). */
  async #syncSwitch(n: number): Promise<void> {
    if (this.#down.has(n) || this.#frozen.has(n) || this.#starting.has(n)) return;
    for (const other of this.cluster.trackers) {
      if (other.number === n) continue;
      const key = n < other.number ? `${n}-${other.number}` : `${other.number}-${n}`;
      await control(this.cluster.tracker(n).url, "/replication/test/partition", { blocked: this.#cuts.has(key), peers: [`tracker-${other.number}`] });
    }
  }
}

async function control(base: string, path: string, body: unknown): Promise<void> {
  const response = await request(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    headersTimeout: NEMESIS.controlTimeoutMs,
    bodyTimeout: NEMESIS.controlTimeoutMs,
  });
  await response.body.dump();
  if (response.statusCode !== 200) throw new Error(`${base}${path} answered ${response.statusCode}`);
}

/** A tracker's heads (highest seq per origin), asked as another tracker would. */
async function signedHeads(base: string): Promise<Record<string, number>> {
  const target = "/replication/heads";
  const response = await request(`${base}${target}`, {
    headers: sign(SECRET, "GET", target, ""),
    headersTimeout: NEMESIS.controlTimeoutMs,
    bodyTimeout: NEMESIS.controlTimeoutMs,
  });
  if (response.statusCode !== 200) throw new Error(`${base}${target} answered ${response.statusCode}`);
  return ((await response.body.json()) as { heads: Record<string, number> }).heads;
}

/** The heads of a stopped tracker's database, read from its file. */
function readHeads(file: string): Record<string, number> {
  const db = new Database(file, { fileMustExist: true });
  try {
    const rows = db.prepare("SELECT origin, MAX(seq) AS seq FROM Event GROUP BY origin").all() as { origin: string; seq: number }[];
    return Object.fromEntries(rows.map((r) => [r.origin, r.seq]));
  } finally {
    db.close();
  }
}
