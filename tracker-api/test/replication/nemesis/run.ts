/**
 * One nemesis run: three tracker processes, PERSONS clients writing for the
 * given seconds while the nemesis injects faults, then every fault healed,
 * convergence awaited (bounded), and the invariants checked on every tracker.
 * Every process it started is stopped, whatever happens.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { TrackerAddress } from "../../../../core/tracker-info.js";
import { Cluster, health } from "../cluster.js";
import { checkHistory, checkTracker, type Violation } from "./checker.js";
import { History } from "./history.js";
import { Model } from "./model.js";
import { ALL_FAULTS, Nemesis, type NemesisFault } from "./nemesis.js";
import { Rng } from "./rng.js";
import { Person } from "./workload.js";

export const RUN = Object.freeze({
  trackers: 3,
  /** Clients writing at once: enough to race on the same groups, few enough for two shared cores. */
  persons: 4,
  /** A tracker (tsx compiling, Prisma opening) takes 2–30 s to answer on a loaded 2-core machine; a start that fails ends the run. */
  startTimeoutMs: 120_000,
  /** After the heal, how long the trackers get to agree (a wiped tracker pulls everything back first). */
  convergeMs: 90_000,
  /** How often a long run prints its progress. */
  progressMs: 5000,
});

export interface RunOptions {
  seed: number;
  seconds: number;
  faults?: readonly NemesisFault[];
  log?: (line: string) => void;
}

export interface RunResult {
  seed: number;
  seconds: number;
  faults: readonly NemesisFault[];
  history: History;
  violations: Violation[];
  /** What the end state could be checked against exactly. */
  coverage: string;
}

export async function runNemesis(options: RunOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const faults = options.faults ?? ALL_FAULTS;
  const rng = new Rng(options.seed);
  const cluster = await Cluster.start(RUN.trackers, { startTimeoutMs: RUN.startTimeoutMs });
  // Even if this process is stopped (Ctrl-C on a long run), its trackers do not outlive it.
  const killOnExit = () => cluster.killNow();
  process.once("exit", killOnExit);
  // Times in the history count from here: starting three trackers takes seconds on a loaded machine.
  const history = new History();
  const model = new Model();
  const addresses: TrackerAddress[] = cluster.trackers.map((t) => {
    const url = new URL(t.url);
    return { number: t.number, host: url.hostname, port: Number(url.port), url: t.url };
  });
  const persons = Array.from({ length: RUN.persons }, (_, i) => {
    // Each prefers another tracker, so every tracker takes writes.
    const order = [...addresses.slice(i % addresses.length), ...addresses.slice(0, i % addresses.length)];
    return new Person(`p${i + 1}`, rng.fork(`person-${i + 1}`), order, model, history, `127.0.0.1:${7001 + i}`);
  });
  const nemesis = new Nemesis(cluster, rng.fork("nemesis"), history, faults, log);
  const violations: Violation[] = [];
  let coverage = "not checked";
  try {
    const startedAt = Date.now();
    const stopped = () => Date.now() - startedAt >= options.seconds * 1000;
    const progress = setInterval(() => {
      const s = history.summary();
      log(`${((Date.now() - startedAt) / 1000).toFixed(0)}s: ${s.acknowledged}/${s.total} operations acknowledged, ${history.faults.length} fault events, active: ${nemesis.active.map((f) => `${f.kind} ${f.targets.join("-")}`).join(", ") || "none"}`);
    }, RUN.progressMs);
    try {
      await Promise.all([...persons.map((p) => p.run(stopped)), nemesis.run(stopped)]);
    } finally {
      clearInterval(progress);
    }
    log("healing every fault");
    await nemesis.healAll();
    for (const crash of nemesis.crashes) violations.push({ rule: "tracker-crashed", tracker: crash.tracker, detail: crash.output });
    log("waiting for the trackers to converge");
    const stuck = await convergence(cluster, RUN.convergeMs);
    if (stuck) violations.push({ rule: "not-converged", detail: stuck });
    const replayed = Model.fromHistory(history.ops);
    coverage = replayed.coverage();
    violations.push(...checkHistory(history.ops, replayed));
    const passwords = new Map(persons.map((p) => [p.name, p.password]));
    for (const address of addresses) violations.push(...(await checkTracker(address, replayed, passwords)));
  } catch (error) {
    violations.push({ rule: "check-failed", detail: error instanceof Error ? error.stack ?? error.message : String(error) });
  } finally {
    nemesis.retire();
    await Promise.all(persons.map((p) => p.close()));
    await cluster.stop();
    process.off("exit", killOnExit);
  }
  return { seed: options.seed, seconds: options.seconds, faults, history, violations, coverage };
}

/** Waits until every tracker says ok with the same digest; returns what still differs at the deadline, or undefined. */
async function convergence(cluster: Cluster, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const views = await Promise.all(cluster.trackers.map((t) => health(t.url).catch((error: Error) => ({ status: `unreachable: ${error.message}`, digest: "", peers: [] }))));
    if (views.every((v) => v.status === "ok" && v.digest) && new Set(views.map((v) => v.digest)).size === 1) return undefined;
    last = views.map((v, i) => `t${i + 1}: ${v.status} digest ${v.digest?.slice(0, 12) ?? "(stale)"} peers ${JSON.stringify(v.peers)}`).join("; ");
    if (Date.now() > deadline) return `after ${timeoutMs / 1000}s: ${last}`;
    await sleep(250);
  }
}

/** The report of a run: seed, counts, violations, and, when any, the whole history to replay it. */
export function report(result: RunResult): string {
  const s = result.history.summary();
  const lines = [
    `nemesis seed=${result.seed} seconds=${result.seconds} faults=${result.faults.join(",")}`,
    `operations (acknowledged/attempted): ${Object.entries(s.operations).map(([k, v]) => `${k} ${v}`).join(", ")}; total ${s.acknowledged}/${s.total}`,
    `not acknowledged: ${Object.entries(s.refusals).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`,
    `faults: ${Object.entries(s.faults).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`,
    `checked: ${result.coverage}`,
    `violations: ${result.violations.length}`,
    ...result.violations.map((v) => `  ${v.rule}${v.tracker ? ` on t${v.tracker}` : ""}: ${v.detail}`),
  ];
  if (result.violations.length > 0 || process.env.NEMESIS_HISTORY === "1") {
    lines.push(`replay: npm run nemesis -- --seconds ${result.seconds} --seed ${result.seed} --faults ${result.faults.join(",")}`, "history:", result.history.format());
  }
  return lines.join("\n");
}
