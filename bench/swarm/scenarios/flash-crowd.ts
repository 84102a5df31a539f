/**
 * Scenario 5, the flash crowd: one seeder and N downloaders starting at once,
 * every peer's upload capped at 200 Mbit/s. Ours: N + 1 agent processes and
 * a tracker, each downloader started with download_file as a user would. The
 * anchor: the same crowd as an aria2c BitTorrent swarm around opentracker.
 * What each peer uploaded is read from its tc class, for both alike.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { checkSha1, warmPageCache } from "../../support/files.js";
import { atExit, Children, processUsage, sleep } from "../../support/processes.js";
import { startSwarm } from "../anchors.js";
import { Cluster, GROUP } from "../cluster.js";
import { goalLine, idealMs, mib, range, seconds, table } from "../report.js";
import { Shaping, type LinkSampler } from "../shaping.js";
import type { SeederOptions } from "./seeders.js";

const CAP_MBIT = 200;
/** BitTorrent peers get their own loopback addresses (tc caps them by source address): 127.0.77.1 is the seeder. */
const btAddress = (index: number) => `127.0.77.${index + 1}`;

interface CrowdRound {
  /** From the start of all downloads to the last completion. */
  allMs: number;
  /** Each downloader's completion, ms from the start. */
  eachMs: number[];
  /** What the seeder uploaded, in copies of the file. */
  seederCopies: number;
  /** Share of all uploaded bytes that downloaders uploaded (to each other). */
  fromEachOther: number;
  note: string;
}

/** Seeder copies and the downloaders' share, from the tc counters. */
function uploads(sampler: LinkSampler, size: number): { seederCopies: number; fromEachOther: number; total: number } {
  const delta = sampler.delta();
  const seeder = delta.get("seed") ?? 0;
  const total = [...delta.values()].reduce((a, b) => a + b, 0);
  return { seederCopies: seeder / size, fromEachOther: total > 0 ? (total - seeder) / total : 0, total };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms))),
  ]);
}

async function oursRound(options: SeederOptions, downloaders: number, round: number): Promise<CrowdRound> {
  const { dir, source, file, trace } = options;
  const size = file.size;
  const children = new Children();
  atExit(() => children.killAll());
  const cluster = await Cluster.start(join(dir, `s5-ours-${round}`), children);
  let shaping: Shaping | undefined;
  try {
    const seeder = await cluster.agent("seed");
    await seeder.api.uploadFile(source, GROUP);
    const crowd = [];
    for (let i = 0; i < downloaders; i++) crowd.push(await cluster.agent(`dl${i}`));
    const agents = [seeder, ...crowd];
    shaping = Shaping.install(agents.map((agent) => ({ name: agent.name, mbit: CAP_MBIT, match: { address: agent.host, port: agent.port } })));
    await warmPageCache(dir, size * downloaders);
    const before = agents.map((agent) => agent.usage());
    const sampler = shaping.sample(100);
    await sampler.until(() => true);
    const started = Date.now();
    const destinations = crowd.map((agent) => join(dir, `ours-${agent.name}.bin`));
    const infos = await Promise.all(crowd.map((agent, i) => agent.api.downloadFile(GROUP, file.fileName, destinations[i]!)));
    const ended = await withTimeout(
      Promise.all(crowd.map(async (agent, i) => ({ info: await agent.api.waitForDownload(infos[i]!.id), at: Date.now() - started }))),
      Math.max(120_000, 3 * downloaders * idealMs(size, CAP_MBIT)),
      "our flash crowd",
    );
    await sampler.stop();
    const after = agents.map((agent) => agent.usage());
    for (const { info } of ended) if (info.state !== "complete") throw new Error(`scenario 5: ${info.id} ended ${info.state}: ${info.error?.message}`);
    for (const path of destinations) {
      await checkSha1("ours (flash crowd)", path, file.sha1);
      await rm(path, { force: true });
    }
    const { seederCopies, fromEachOther, total } = uploads(sampler, size);
    const cpu = after.map((usage, i) => (usage?.cpuMs ?? 0) - (before[i]?.cpuMs ?? 0));
    const seederServed = sampler.delta().get("seed") ?? 0;
    const rss = after.map((usage) => mib(usage?.peakRssBytes ?? 0));
    const firstPiece = ended.map(({ info }) => info.summary?.firstPieceMs ?? NaN);
    if (trace) for (const row of sampler.timeline(500)) console.log(`  ${row}`);
    return {
      allMs: Math.max(...ended.map((e) => e.at)),
      eachMs: ended.map((e) => e.at),
      seederCopies,
      fromEachOther,
      note: `agents' peak RSS ${range(rss, 0)} MiB; CPU per GiB uploaded: seeder ${Math.round(cpu[0]! / (seederServed / 2 ** 30))} ms, all agents (downloading too) ${Math.round(cpu.reduce((a, b) => a + b, 0) / (total / 2 ** 30))} ms; first piece after ${range(firstPiece, 0)} ms; ${ended.reduce((sum, { info }) => sum + (info.summary?.requests ?? 0), 0)} requests, ${ended.reduce((sum, { info }) => sum + (info.summary?.timeouts ?? 0), 0)} given up as stalled`,
    };
  } finally {
    shaping?.remove();
    await cluster.close();
    children.killAll();
  }
}

async function bitTorrentRound(options: SeederOptions, downloaders: number, round: number): Promise<CrowdRound> {
  const { dir, source, file, trace } = options;
  const size = file.size;
  const children = new Children();
  atExit(() => children.killAll());
  const swarmDir = join(dir, `s5-bt-${round}`);
  let shaping: Shaping | undefined;
  try {
    const swarm = await startSwarm(children, swarmDir, source);
    const names = ["seed", ...Array.from({ length: downloaders }, (_, i) => `dl${i}`)];
    shaping = Shaping.install(names.map((name, i) => ({ name, mbit: CAP_MBIT, match: { address: btAddress(i) } })));
    const seeder = await swarm.seeder(btAddress(0));
    await sleep(1000); // its first announce reaches the tracker before the crowd asks
    await warmPageCache(dir, size * downloaders);
    const seederCpuBefore = processUsage(seeder.pid!)?.cpuMs ?? 0;
    const sampler = shaping.sample(100);
    await sampler.until(() => true);
    const started = Date.now();
    const intos = names.slice(1).map((name) => join(swarmDir, name));
    const leechers = await Promise.all(intos.map((into, i) => swarm.leecher(btAddress(i + 1), into)));
    const done = await withTimeout(Promise.all(leechers.map((l) => l.done)), Math.max(120_000, 3 * downloaders * idealMs(size, CAP_MBIT)), "the BitTorrent flash crowd");
    await sampler.stop();
    const seederCpu = (processUsage(seeder.pid!)?.cpuMs ?? 0) - seederCpuBefore;
    const peersCpu = seederCpu + leechers.reduce((sum, l) => sum + (processUsage(l.process.pid!)?.cpuMs ?? 0), 0);
    children.killAll();
    for (const into of intos) await checkSha1("aria2c BitTorrent", join(into, file.fileName), file.sha1);
    const { seederCopies, fromEachOther, total } = uploads(sampler, size);
    if (trace) for (const row of sampler.timeline(500)) console.log(`  ${row}`);
    const eachMs = done.map((at) => at - started);
    const seederServed = sampler.delta().get("seed") ?? 0;
    return {
      allMs: Math.max(...eachMs),
      eachMs,
      seederCopies,
      fromEachOther,
      note: `CPU per GiB uploaded: seeder ${Math.round(seederCpu / (seederServed / 2 ** 30))} ms, all peers (downloading too) ${Math.round(peersCpu / (total / 2 ** 30))} ms`,
    };
  } finally {
    shaping?.remove();
    children.killAll();
    await rm(swarmDir, { recursive: true, force: true });
  }
}

export async function runFlashCrowd(options: SeederOptions & { downloaders: number }): Promise<string[]> {
  const { downloaders, rounds, only, file } = options;
  const size = file.size;
  const ours: CrowdRound[] = [];
  const bt: CrowdRound[] = [];
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so neither always inherits the other's page cache and load.
    const order = round % 2 === 0 ? ["ours", "anchor"] : ["anchor", "ours"];
    for (const which of order) {
      if (!only.has(which)) continue;
      const result = which === "ours" ? await oursRound(options, downloaders, round) : await bitTorrentRound(options, downloaders, round);
      (which === "ours" ? ours : bt).push(result);
      console.log(JSON.stringify({ scenario: 5, round, row: which === "ours" ? "ours" : "aria2c BitTorrent", ...result, eachMs: result.eachMs.map(Math.round) }));
    }
  }
  const p2p = idealMs(size, CAP_MBIT);
  const clientServer = downloaders * p2p;
  const cell = (rows: CrowdRound[], i: number, f: (r: CrowdRound) => string) => (rows[i] ? f(rows[i]!) : "–");
  const out = [
    `\n### Scenario 5: flash crowd, 1 seeder + ${downloaders} downloaders, every upload ${CAP_MBIT} Mbit/s, ${mib(size)} MiB`,
    `P2P ideal (size / one upload) ${seconds(p2p)} s; client-server ideal (${downloaders} copies through the seeder) ${seconds(clientServer)} s`,
    table(
      ["round", "ours: all complete", "ours: seeder uploaded", "ours: from each other", "BT: all complete", "BT: seeder uploaded", "BT: from each other", "ours / BT"],
      Array.from({ length: rounds }, (_, i) => [
        i + 1,
        cell(ours, i, (r) => `${seconds(r.allMs)} s (first done ${seconds(Math.min(...r.eachMs))} s)`),
        cell(ours, i, (r) => `${r.seederCopies.toFixed(2)} copies`),
        cell(ours, i, (r) => `${Math.round(r.fromEachOther * 100)} %`),
        cell(bt, i, (r) => `${seconds(r.allMs)} s (first done ${seconds(Math.min(...r.eachMs))} s)`),
        cell(bt, i, (r) => `${r.seederCopies.toFixed(2)} copies`),
        cell(bt, i, (r) => `${Math.round(r.fromEachOther * 100)} %`),
        ours[i] && bt[i] ? (ours[i]!.allMs / bt[i]!.allMs).toFixed(2) : "–",
      ]),
    ),
    ...ours.map((r, i) => `ours round ${i + 1}: ${r.note}`),
    ...bt.map((r, i) => `BitTorrent round ${i + 1}: ${r.note}`),
  ];
  if (ours.length > 0 && bt.length > 0) {
    out.push(goalLine({ name: "ours / aria2c BitTorrent", values: ours.slice(0, bt.length).map((r, i) => r.allMs / bt[i]!.allMs), atMost: 1 }));
  }
  if (ours.length > 0) {
    out.push(goalLine({ name: "ours / P2P ideal", values: ours.map((r) => r.allMs / p2p), atMost: 1.5 }));
    out.push(goalLine({ name: "seeder uploads (copies)", values: ours.map((r) => r.seederCopies), atMost: 1.5 }));
  }
  if (bt.length > 0) out.push(`aria2c BitTorrent / P2P ideal: ${range(bt.map((r) => r.allMs / p2p))}, seeder ${range(bt.map((r) => r.seederCopies))} copies (reference)`);
  return out;
}
