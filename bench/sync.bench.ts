/**
 * npm run bench:sync — two real tracker processes on loopback.
 * 1. Propagation under a steady write load (RATE writes/s for SECONDS s on
 *    tracker 1): for each write, the time from sending it until tracker 2
 *    shows it (a read on tracker 2 right after the answer; retried if absent).
 *    Since a write is pushed before it is acknowledged, this is an upper bound.
 * 2. Catch-up: tracker 2 cut off (partition switch), 10,000 events written on
 *    tracker 1, then healed: the time until tracker 2 has applied them all.
 *    The first BENCH_WARMUP_SECONDS (default 1) of the load are not measured.
 * Goals: p99 < 50 ms; 10,000 events caught up in < 5 s.
 */
import { performance } from "node:perf_hooks";
import { call, Cluster, createUser, digest, health, login, waitUntil } from "../tracker-api/test/replication/cluster.js";
import { TRACKER } from "../tracker-api/src/config.js";

const RATE = Number(process.env.BENCH_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_S = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const MISSED = Number(process.env.BENCH_MISSED ?? 10_000);
const GOALS = { p99Ms: 50, catchUpMs: 5000 };

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const cluster = await Cluster.start(2);
try {
  const [one, two] = [cluster.tracker(1).url, cluster.tracker(2).url];
  // One user owns at most TRACKER.QUOTAS.groupsOwned groups: the writes are spread over enough users.
  const perUser = Math.min(TRACKER.QUOTAS.groupsOwned, 1000);
  const tokens: string[] = [];
  for (let u = 0; u * perUser < RATE * (WARMUP_S + SECONDS) + MISSED; u++) {
    await createUser(one, `bench-${u}`);
    tokens.push(await login(one, `bench-${u}`));
  }
  const tokenFor = (write: number) => tokens[Math.floor(write / perUser)]!;

  // 1. Propagation delay under a steady load, after WARMUP_S s of the same load
  //    (not measured: the first requests of a fresh process compile code and queries).
  const delays: number[] = [];
  const acks: number[] = [];
  let retried = 0;
  const pending: Promise<void>[] = [];
  const warmup = RATE * WARMUP_S;
  const start = performance.now();
  for (let i = 0; i < warmup + RATE * SECONDS; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push((async () => {
      const sent = performance.now();
      const created = await call(one, "POST", "/groups", { token: tokenFor(i), body: { groupId: `steady-${i}` } });
      if (created.status !== 201) throw new Error(`write ${i}: ${created.status}`);
      const acked = performance.now() - sent;
      for (let attempt = 0; ; attempt++) {
        if ((await call(two, "GET", `/groups/steady-${i}/members`, { token: tokenFor(i) })).status === 200) break;
        retried++;
        if (attempt > 200) throw new Error(`steady-${i} never reached tracker 2`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const visible = performance.now() - sent;
      if (process.env.BENCH_VERBOSE) console.log(`write ${i}: acknowledged ${acked.toFixed(1)} ms, visible ${visible.toFixed(1)} ms`);
      if (i < warmup) return;
      acks.push(acked);
      delays.push(visible);
    })());
  }
  await Promise.all(pending);
  delays.sort((a, b) => a - b);
  acks.sort((a, b) => a - b);

  // 2. Catch-up of missed events.
  await cluster.partition(true);
  let next = 0;
  const writer = async () => {
    while (next < MISSED) {
      const id = next++;
      const created = await call(one, "POST", "/groups", { token: tokenFor(warmup + RATE * SECONDS + id), body: { groupId: `missed-${id}` } });
      if (created.status !== 201) throw new Error(`missed write ${id}: ${created.status}`);
    }
  };
  const writeStart = performance.now();
  await Promise.all(Array.from({ length: 8 }, writer));
  const writeMs = performance.now() - writeStart;
  const target = (await health(one)).peers[0]!.unacknowledged;
  const healStart = performance.now();
  await cluster.partition(false);
  await waitUntil(async () => (await health(one)).peers[0]!.unacknowledged === 0, 120_000, "catch-up");
  const catchUpMs = performance.now() - healStart;
  // The fresh digests (signed): /health shows a kept one, left out while events are being applied.
  const equal = (await digest(one)) === (await digest(two));

  const line = (label: string, value: string, goal: string) => console.log(`| ${label} | ${value} | ${goal} |`);
  console.log(`\nsync bench: ${RATE} writes/s for ${SECONDS} s (after ${WARMUP_S} s of warm-up), then ${MISSED} missed events (${Math.round(MISSED / (writeMs / 1000))} writes/s while cut off)\n`);
  console.log("| measure | value | goal |");
  console.log("| --- | --- | --- |");
  line("write acknowledged (already pushed), p50 / p99", `${percentile(acks, 50).toFixed(1)} / ${percentile(acks, 99).toFixed(1)} ms`, "-");
  line("visible on tracker 2 after sending, p50 / p99", `${percentile(delays, 50).toFixed(1)} / ${percentile(delays, 99).toFixed(1)} ms`, `p99 < ${GOALS.p99Ms} ms`);
  line("reads on tracker 2 that had to retry", String(retried), "0");
  line(`catch-up of ${target} events`, `${(catchUpMs / 1000).toFixed(2)} s (${Math.round(target / (catchUpMs / 1000))} events/s)`, `< ${GOALS.catchUpMs / 1000} s`);
  line("digests equal after catch-up", String(equal), "true");
} finally {
  await cluster.stop();
}
