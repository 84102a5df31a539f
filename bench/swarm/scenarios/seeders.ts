/**
 * Scenarios 1–4: one download from capped seeders. Ours: the download
 * engine in its own process (bench/download-runner.ts) with the peer list and
 * grant a tracker hands out, from real agent processes. The anchor: aria2c
 * -x/-s N -k1M from as many nginx, capped the same way. Both against the
 * physical limit, the file's size over the seeders' summed caps.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { FileMetadata, PeerView } from "../../../core/api-types.js";
import type { DownloadJob } from "../../download-runner.js";
import { bundled } from "../../support/bundle.js";
import { checkSha1, generate, warmPageCache } from "../../support/files.js";
import type { ChildProcess } from "node:child_process";
import { atExit, Children, lastJsonLine, run } from "../../support/processes.js";
import { aria2cMultiSource, startNginx } from "../anchors.js";
import { Cluster, GROUP, type AgentHandle } from "../cluster.js";
import { startDelayProxy } from "../delay-proxy.js";
import { goalLine, idealMs, mib, range, seconds, table, type Goal } from "../report.js";
import { Shaping, type LinkSampler } from "../shaping.js";

export interface SeederScenario {
  id: number;
  title: string;
  caps: number[];
  rttMs: number;
  /** Kill one seeder (SIGKILL) and hang another (SIGSTOP) once this share of the file has left the seeders. */
  faultsAt?: number;
  /** Goal: time at most this many times the limit. */
  goal: number;
}

export const SEEDER_SCENARIOS: Record<number, SeederScenario> = {
  1: { id: 1, title: "4 seeders x 200 Mbit/s", caps: [200, 200, 200, 200], rttMs: 0, goal: 1.05 },
  2: { id: 2, title: "seeders at 400/200/100/20 Mbit/s", caps: [400, 200, 100, 20], rttMs: 0, goal: 1.05 },
  3: { id: 3, title: "400/200/100/20 Mbit/s, 40 ms RTT", caps: [400, 200, 100, 20], rttMs: 40, goal: 1.1 },
  4: { id: 4, title: "4 x 200 Mbit/s, one seeder killed and one hung at 30 %", caps: [200, 200, 200, 200], rttMs: 0, faultsAt: 0.3, goal: 1.15 },
};

/** The hung-before-start check of scenario 4: a file of this size from 3 seeders, one SIGSTOPped before the start. */
const HUNG_START_BYTES = 100 << 20;

export interface SeederOptions {
  dir: string;
  source: string;
  file: FileMetadata;
  rounds: number;
  only: Set<string>;
  trace: boolean;
}

interface Row {
  ms: number;
  /** From the seeders' first byte to their last (tc samples every 100 ms). */
  activeMs: number;
  note: string;
}

/** The fastest the links allow: every seeder busy until the faults, then the survivors. */
function limitMs(scenario: SeederScenario, size: number): number {
  const total = scenario.caps.reduce((a, b) => a + b, 0);
  if (scenario.faultsAt === undefined) return idealMs(size, total);
  const alive = total - scenario.caps[0]! - scenario.caps[1]!;
  return idealMs(size * scenario.faultsAt, total) + idealMs(size * (1 - scenario.faultsAt), alive);
}

export async function runSeederScenario(scenario: SeederScenario, options: SeederOptions): Promise<string[]> {
  const { dir, source, file, rounds, only } = options;
  const size = file.size;
  const children = new Children();
  atExit(() => children.killAll());
  const cluster = await Cluster.start(join(dir, `s${scenario.id}-cluster`), children);
  const proxies: { close(): Promise<void> }[] = [];
  let shaping: Shaping | undefined;
  const out: string[] = [];
  try {
    const seeders: AgentHandle[] = [];
    for (let i = 0; i < scenario.caps.length; i++) seeders.push(await cluster.agent(`seed${i}`));
    await Promise.all(seeders.map((seeder) => seeder.api.uploadFile(source, GROUP)));
    const nginx: Awaited<ReturnType<typeof startNginx>>[] = [];
    for (let i = 0; i < scenario.caps.length; i++) nginx.push(await startNginx(children, dir, join(source, "..")));
    const downloader = await cluster.member("downloader", "127.0.0.1:1");
    shaping = Shaping.install([
      ...seeders.map((seeder, i) => ({ name: seeder.name, mbit: scenario.caps[i]!, match: { address: seeder.host, port: seeder.port } })),
      ...nginx.map((server, i) => {
        const [address, port] = server.address.split(":");
        return { name: `nginx${i}`, mbit: scenario.caps[i]!, match: { address: address!, port: Number(port) } };
      }),
    ]);
    // With added RTT both sides are reached through delay proxies.
    const via = new Map<string, string>();
    if (scenario.rttMs > 0) {
      for (const address of [...seeders.map((s) => s.address), ...nginx.map((n) => n.address)]) {
        const proxy = await startDelayProxy(address, scenario.rttMs);
        proxies.push(proxy);
        via.set(address, proxy.address);
      }
    }
    const reach = (address: string) => via.get(address) ?? address;
    const runner = await bundled("bench/download-runner.ts", "download-runner");
    const seederNames = seeders.map((s) => s.name);
    const nginxNames = nginx.map((_, i) => `nginx${i}`);
    const limit = limitMs(scenario, size);

    /** Starts the faults once `faultsAt` of the file has left these links; returns a function that undoes them. */
    const faults = (sampler: LinkSampler, names: string[], kill: () => void, hang: () => void) => {
      const at = scenario.faultsAt;
      if (at === undefined) return;
      sampler.until((sample) => names.reduce((sum, name) => sum + (sample.bytes.get(name) ?? 0), 0) - base(sampler, names) >= at * size).then(
        () => {
          kill();
          hang();
        },
        () => undefined, // the sampler failed: stop() reports it at the row's end
      );
    };
    const base = (sampler: LinkSampler, names: string[]) => names.reduce((sum, name) => sum + (sampler.samples[0]?.bytes.get(name) ?? 0), 0);

    const ours: Row[] = [];
    const aria: Row[] = [];
    for (let round = 0; round < rounds; round++) {
      if (only.has("ours")) {
        const { peers, grant } = await downloader.getPeers(GROUP, file.fileName);
        const finalPath = join(dir, "ours.bin");
        const job: DownloadJob = { groupId: GROUP, file, grant, partPath: `${finalPath}.part`, finalPath, peers: peers.map((p: PeerView) => ({ ...p, address: reach(p.address) })) };
        // BENCH_PICKER='{"runSeconds":1}' tries other picker settings, as in bench:download.
        if (process.env.BENCH_PICKER) job.picker = JSON.parse(process.env.BENCH_PICKER) as Record<string, number>;
        await warmPageCache(dir, size);
        const before = seeders.map((s) => s.usage());
        const sampler = shaping.sample(scenario.faultsAt !== undefined ? 50 : 100);
        await sampler.until(() => true);
        faults(sampler, seederNames, () => seeders[0]!.process.kill("SIGKILL"), () => seeders[1]!.process.kill("SIGSTOP"));
        // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the downloader, as in bench:download.
        const nodeArgs = process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
        const child = await run(process.execPath, [...nodeArgs, ...runner, JSON.stringify(job)]);
        await sampler.stop();
        const after = seeders.map((s) => s.usage());
        const line = lastJsonLine<{
          ok: boolean; ms: number; cpuMs: number; maxRssBytes: number; message?: string;
          timeline: { first: number; quarter: number; half: number; ninety: number; last: number };
          summary: { requests: number; timeouts: number; perPeer: { userId: string; bytes: number }[] };
        }>(child, `scenario ${scenario.id}: our download`);
        if (scenario.faultsAt !== undefined) {
          seeders[1]!.process.kill("SIGCONT");
          await cluster.restart(seeders[0]!);
        }
        if (!line.ok) throw new Error(`scenario ${scenario.id}: our download failed: ${line.message ?? child.stderr}`);
        if (process.env.BENCH_MEMORY) console.error(child.stderr.trim());
        await checkSha1("ours", finalPath, file.sha1);
        await rm(finalPath, { force: true });
        const served = sampler.delta();
        // A killed seeder's CPU is gone with it: only the others count.
        const seederCpu = after.reduce((sum, usage, i) => sum + (usage && before[i] ? usage.cpuMs - before[i]!.cpuMs : 0), 0);
        const seederRss = Math.max(...after.map((usage) => usage?.peakRssBytes ?? 0));
        ours.push({
          ms: line.ms,
          activeMs: sampler.activeMs(seederNames),
          note: `${line.summary.requests} requests, ${line.summary.timeouts} timed out; verified first/25/50/90/100 % at ${Object.values(line.timeline).join("/")} ms; bytes by seeder (tc) ${seederNames.map((n) => `${n} ${mib(served.get(n) ?? 0)} MiB`).join(", ")}; downloader CPU ${Math.round(line.cpuMs)} ms, peak RSS ${mib(line.maxRssBytes)} MiB; seeders CPU ${seederCpu} ms (${Math.round(seederCpu / (size / 2 ** 30))} ms per GiB served), seeder peak RSS ${mib(seederRss)} MiB`,
        });
        console.log(JSON.stringify({ scenario: scenario.id, round, row: "ours", ms: Math.round(line.ms), activeMs: Math.round(ours.at(-1)!.activeMs), ratio: +(line.ms / limit).toFixed(3), note: ours.at(-1)!.note }));
        if (options.trace) for (const row of sampler.timeline(250, seederNames)) console.log(`  ${row}`);
      }
      if (only.has("anchor")) {
        const urls = nginx.map((n) => `http://${reach(n.address)}/${file.fileName}`);
        await warmPageCache(dir, size);
        const sampler = shaping.sample(scenario.faultsAt !== undefined ? 50 : 100);
        await sampler.until(() => true);
        faults(sampler, nginxNames, () => nginx[0]!.process.kill("SIGKILL"), () => nginx[1]!.process.kill("SIGSTOP"));
        const result = await run("aria2c", aria2cMultiSource(urls, dir, "aria.bin"));
        await sampler.stop();
        if (scenario.faultsAt !== undefined) {
          nginx[1]!.process.kill("SIGCONT");
          await nginx[0]!.restart();
        }
        if (result.code !== 0) throw new Error(`scenario ${scenario.id}: aria2c failed: ${result.stdout}${result.stderr}`);
        await checkSha1("aria2c", join(dir, "aria.bin"), file.sha1);
        await rm(join(dir, "aria.bin"), { force: true });
        const served = sampler.delta();
        aria.push({ ms: result.ms, activeMs: sampler.activeMs(nginxNames), note: `bytes by server (tc) ${nginxNames.map((n) => `${n} ${mib(served.get(n) ?? 0)} MiB`).join(", ")}` });
        console.log(JSON.stringify({ scenario: scenario.id, round, row: "aria2c", ms: Math.round(result.ms), activeMs: Math.round(aria.at(-1)!.activeMs), ratio: +(result.ms / limit).toFixed(3), note: aria.at(-1)!.note }));
        if (options.trace) for (const row of sampler.timeline(250, nginxNames)) console.log(`  ${row}`);
      }
    }

    out.push(`\n### Scenario ${scenario.id}: ${scenario.title}, ${mib(size)} MiB`);
    out.push(`limit (size / summed caps${scenario.faultsAt !== undefined ? ", the survivors' caps after the faults" : ""}${scenario.rttMs ? ", RTT not counted" : ""}): ${seconds(limit)} s`);
    const cells = (row: Row | undefined) => (row ? [`${seconds(row.ms)} s`, (row.ms / limit).toFixed(2), `${seconds(row.activeMs)} s`] : ["–", "–", "–"]);
    out.push(table(
      ["round", "ours", "ours / limit", "ours first to last byte", "aria2c -x4 -s4 -k1M", "aria2c / limit", "aria2c first to last byte", "ours / aria2c"],
      Array.from({ length: rounds }, (_, i) => [i + 1, ...cells(ours[i]), ...cells(aria[i]), ours[i] && aria[i] ? (ours[i]!.ms / aria[i]!.ms).toFixed(2) : "–"]),
    ));
    for (const [i, row] of ours.entries()) out.push(`ours round ${i + 1}: ${row.note}`);
    for (const [i, row] of aria.entries()) out.push(`aria2c round ${i + 1}: ${row.note}`);
    if (ours.length > 0) {
      const goal: Goal = { name: `scenario ${scenario.id} ours / limit`, values: ours.map((r) => r.ms / limit), atMost: scenario.goal };
      out.push(goalLine(goal));
      out.push(`ours, first to last byte / limit: ${range(ours.map((r) => r.activeMs / limit))}`);
    }
    if (aria.length > 0) out.push(`aria2c / limit: ${range(aria.map((r) => r.ms / limit))}, first to last byte ${range(aria.map((r) => r.activeMs / limit))} (reference)`);
    if (scenario.faultsAt !== undefined && only.has("ours")) out.push(...(await hungBeforeStart(options, seeders.slice(1), downloader, runner, reach)));
    return out;
  } finally {
    shaping?.remove();
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await cluster.close();
    children.killAll();
  }
}

/**
 * A peer hung before the download starts: a 100 MiB file from 3 seeders,
 * once with all 3 live and once with the first SIGSTOPped first (it stays in
 * the tracker's list); the goal is at most 1 s added.
 */
async function hungBeforeStart(
  options: SeederOptions,
  seeders: AgentHandle[],
  downloader: Awaited<ReturnType<Cluster["member"]>>,
  runner: string[],
  reach: (address: string) => string,
): Promise<string[]> {
  const { dir, rounds } = options;
  const path = join(dir, "hung.bin");
  await generate(path, HUNG_START_BYTES);
  await Promise.all(seeders.map((seeder) => seeder.api.uploadFile(path, GROUP)));
  const live: number[] = [];
  const hung: number[] = [];
  const once = async (hang: ChildProcess | undefined): Promise<number> => {
    const { peers, grant, file } = await downloader.getPeers(GROUP, "hung.bin");
    const finalPath = join(dir, "hung-download.bin");
    const job: DownloadJob = { groupId: GROUP, file, grant, partPath: `${finalPath}.part`, finalPath, peers: peers.map((p) => ({ ...p, address: reach(p.address) })) };
    await warmPageCache(dir, HUNG_START_BYTES);
    hang?.kill("SIGSTOP");
    try {
      const child = await run(process.execPath, [...runner, JSON.stringify(job)]);
      const line = lastJsonLine<{ ok: boolean; ms: number; message?: string }>(child, "hung-before-start download");
      if (!line.ok) throw new Error(`hung-before-start download failed: ${line.message ?? child.stderr}`);
      await checkSha1("hung-before-start", finalPath, file.sha1);
      await rm(finalPath, { force: true });
      return line.ms;
    } finally {
      hang?.kill("SIGCONT");
    }
  };
  for (let round = 0; round < rounds; round++) {
    live.push(await once(undefined));
    hung.push(await once(seeders[0]!.process));
    console.log(JSON.stringify({ scenario: 4, round, row: "hung before start", liveMs: Math.round(live.at(-1)!), hungMs: Math.round(hung.at(-1)!) }));
  }
  await rm(path, { force: true });
  const caps = 200;
  // Part of what a hung peer adds is its share of the links; the rest is what waiting for it costs.
  const lostCapacityMs = idealMs(HUNG_START_BYTES, 2 * caps) - idealMs(HUNG_START_BYTES, 3 * caps);
  return [
    `\nhung before start: ${mib(HUNG_START_BYTES)} MiB from 3 seeders at ${caps} Mbit/s (limits: 3 live ${seconds(idealMs(HUNG_START_BYTES, 3 * caps))} s, 2 live ${seconds(idealMs(HUNG_START_BYTES, 2 * caps))} s)`,
    table(
      ["round", "3 live", "1 of 3 hung", "added", "added beyond the hung peer's lost share"],
      live.map((ms, i) => [i + 1, `${seconds(ms)} s`, `${seconds(hung[i]!)} s`, `${seconds(hung[i]! - ms)} s`, `${seconds(hung[i]! - ms - lostCapacityMs)} s`]),
    ),
    goalLine({ name: "hung peer adds", values: hung.map((ms, i) => (ms - live[i]!) / 1000), atMost: 1, unit: " s" }),
  ];
}
