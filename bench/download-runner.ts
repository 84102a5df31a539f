/**
 * Child process of bench/download.bench.ts (and of the resume test): runs one
 * Download and prints one JSON line with its summary and the process's peak
 * RSS, so memory is measured apart from the seeders.
 *
 * Usage: node --import tsx bench/download-runner.ts '<json DownloadJob>'
 */
import { readFileSync } from "node:fs";
import { Bitfield } from "../core/bitfield.js";
import { Download, type DownloadOptions } from "../peer-agent/src/download/engine.js";
import { discard, PeerConnection } from "../peer-agent/src/download/peer-connection.js";
import { StartupTrace } from "../peer-agent/src/download/startup-trace.js";
import { PieceWorkers } from "../peer-agent/src/download/piece-store.js";

/** The Download's options as JSON: the bitfield as base64, no callbacks. */
export interface DownloadJob extends Pick<DownloadOptions, "groupId" | "file" | "peers" | "grant" | "partPath" | "finalPath"> {
  /** Base64 bitfield of pieces already verified in partPath (resume). */
  have?: string;
  /** Picker settings to try (bench experiments). */
  picker?: Record<string, number>;
  /** Print a `{"verified":n}` line after every piece (the resume test kills the process mid-way). */
  reportPieces?: boolean;
}

const job = JSON.parse(process.argv[2] ?? "{}") as DownloadJob;
// An agent has talked HTTP with its tracker before any download; this fresh process has not, and its first request
// would compile undici's HTTP parser (WebAssembly) and pool code inside the timed download: one request for a route
// that does not exist (no grant, nothing cached on the seeder) warms them first, from the first peer that answers
// (bench:swarm hangs one on purpose).
for (const peer of job.peers) {
  const warm = new PeerConnection("warm-up", peer.address, job.file.pieceHashes.length, 1, peer.certSha256);
  try {
    discard(await warm.get("/warm-up", {}));
    break;
  } catch {
    // hung or gone: the next one
  } finally {
    await warm.close();
  }
}
// An agent also keeps a piece worker started ahead of its next download (PieceWorkers): started here inside the
// timed download, its boot competed with the first pieces for the machine's two cores.
const workers = new PieceWorkers();
await workers.warm();
const pieceCount = job.file.pieceHashes.length;
const started = performance.now();
const verifiedAt: number[] = [];
const { groupId, file, peers, grant, partPath, finalPath } = job;
const trace = new StartupTrace();
const download = new Download({
  trace,
  workers,
  groupId,
  file,
  peers,
  grant,
  partPath,
  finalPath,
  have: job.have ? Bitfield.fromBase64(pieceCount, job.have) : undefined,
  picker: job.picker,
  onPieceVerified: (index, have) => {
    verifiedAt.push(performance.now() - started);
    if (job.reportPieces) process.stdout.write(`${JSON.stringify({ verified: index, have: have.toBase64() })}\n`);
  },
});
// BENCH_MEMORY=1: what the process held when its resident size peaked (stderr), to see what the peak is made of.
let peakMemory: NodeJS.MemoryUsage | undefined;
const memorySampler = process.env.BENCH_MEMORY
  ? setInterval(() => {
      const now = process.memoryUsage();
      if (!peakMemory || now.rss > peakMemory.rss) peakMemory = now;
    }, 20)
  : undefined;
try {
  const summary = await download.run();
  clearInterval(memorySampler);
  if (peakMemory) process.stderr.write(`memory at peak (MiB) ${JSON.stringify(Object.fromEntries(Object.entries(peakMemory).map(([k, v]) => [k, Math.round(v / 2 ** 20)])))}\n`);
  const ms = performance.now() - started;
  const usage = process.resourceUsage();
  const cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000;
  // When the first piece, a quarter, half, 90 % and the last piece were verified: shows a slow start or a long tail.
  const at = (fraction: number) => Math.round(verifiedAt[Math.min(verifiedAt.length - 1, Math.floor(fraction * verifiedAt.length))] ?? 0);
  const timeline = { first: at(0), quarter: at(0.25), half: at(0.5), ninety: at(0.9), last: at(1) };
  if (process.env.BENCH_THREADS) {
    const { readdirSync, readFileSync } = await import("node:fs");
    const threads = readdirSync("/proc/self/task").map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return `${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}:u${Number(fields[11]) * 10}+s${Number(fields[12]) * 10}`;
    });
    process.stderr.write(`threads ${threads.join(" ")}\n`);
  }
  process.stdout.write(`${JSON.stringify({ ok: true, ms, cpuMs, timeline, maxRssBytes: peakRssBytes() ?? usage.maxRSS * 1024, summary })}\n`);
} catch (error) {
  const e = error as { code?: string; message?: string };
  process.stdout.write(`${JSON.stringify({ ok: false, code: e.code, message: e.message })}\n`);
  process.exitCode = 1;
}

/**
 * This process's peak resident size, from /proc (Linux); undefined elsewhere. Not getrusage's maxRSS: Linux
 * carries the peak of the process image replaced by exec into it, and this runner is forked from the bench,
 * so maxRSS reported the bench's own size at the fork (183-190 MiB in bench:swarm's scenarios 2 and 4, whose
 * downloads peaked at 112-125 MiB by VmHWM).
 */
function peakRssBytes(): number | undefined {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
    return hwm ? Number(hwm[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
