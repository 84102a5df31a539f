/**
 * npm run bench:folders -- [--files 10000] [--rounds 3] [--aria-jobs 16 (0: no aria2c row)]
 *
 * Issue 18's folder goal: a folder of many small files (10,000 of 4–64 KiB,
 * ≈ 340 MiB) against one file of the same size, both shared by the same 4
 * seeder agents and downloaded by one agent through real processes, as
 * `client --agent` drives them (goal: folder ≤ 1.5 × file). And the same
 * folder from nginx with `aria2c -i` (one URL per file, --aria-jobs files at
 * once), as people fetch many files over HTTP. Each round runs the rows side
 * by side, in an order that alternates, each after the same page cache
 * warm-up; a row's time is from download_file to the download's end (for a
 * folder: its tree renamed into place and checked). Agents serve TLS, as users run them
 * (BENCH_AGENT_ARGS=--plain-http for plain HTTP). No tc: loopback as it is.
 *
 * The floor: each round also writes the folder's files, and then the single
 * file, straight from memory into this machine's filesystem (no network, no
 * hashing; synchronous calls, one thread), after the same warm-up. What the
 * tree costs there beyond the file is the least a folder row can cost beyond
 * the file row, whatever the download does; the bench prints the ratio that
 * would leave (`(file row + that extra) / file row`) beside the goal.
 */
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Cluster, GROUP, type AgentHandle } from "./swarm/cluster.js";
import { startNginx } from "./swarm/anchors.js";
import { Children, atExit, has, run } from "./support/processes.js";
import { generate, warmPageCache } from "./support/files.js";

const { values: args } = parseArgs({
  options: { files: { type: "string" }, rounds: { type: "string" }, "aria-jobs": { type: "string" } },
});
const fileCount = Number(args.files ?? 10_000);
const rounds = Number(args.rounds ?? 3);
const ariaJobs = Number(args["aria-jobs"] ?? 16);
const SMALL = 4 << 10;
const LARGE = 64 << 10;
const PER_DIRECTORY = 100;

const dir = await mkdtemp(join(tmpdir(), "bench-folders-"));
const children = new Children();
atExit(() => children.killAll());

/** The folder: fileCount files of SMALL–LARGE random bytes, PER_DIRECTORY to a directory. Returns the relative paths and the total size. */
async function makeFolder(root: string): Promise<{ paths: string[]; sizes: number[]; bytes: number }> {
  const paths: string[] = [];
  const sizes: number[] = [];
  let bytes = 0;
  for (let i = 0; i < fileCount; i++) {
    const sub = `d${String(Math.floor(i / PER_DIRECTORY)).padStart(3, "0")}`;
    if (i % PER_DIRECTORY === 0) await mkdir(join(root, sub), { recursive: true });
    const size = SMALL + Math.floor(Math.random() * (LARGE - SMALL + 1));
    const path = `${sub}/f${String(i).padStart(5, "0")}.bin`;
    await writeFile(join(root, path), randomBytes(size));
    paths.push(path);
    sizes.push(size);
    bytes += size;
  }
  return { paths, sizes, bytes };
}

/** Writes `sizes[i]` bytes (from `source`, repeated) to each of `paths` under `root`, synchronously: the filesystem's own cost of those files. */
function writeHere(root: string, paths: readonly string[], sizes: readonly number[], source: Buffer): void {
  const made = new Set<string>();
  paths.forEach((path, i) => {
    const sub = join(root, path.slice(0, path.lastIndexOf("/") + 1));
    if (!made.has(sub)) mkdirSync(sub, { recursive: true });
    made.add(sub);
    const fd = openSync(join(root, path), "wx");
    for (let done = 0; done < sizes[i]!; ) done += writeSync(fd, source, 0, Math.min(source.length, sizes[i]! - done), done);
    closeSync(fd);
  });
}

async function countFiles(root: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

const results: { round: number; row: string; ms: number }[] = [];
const cluster = await Cluster.start(join(dir, "c"), children);
try {
  const folder = join(dir, "course");
  const { paths, sizes, bytes } = await makeFolder(folder);
  const source = randomBytes(16 << 20);
  const single = join(dir, "course.bin");
  await generate(single, bytes);
  console.error(`folder: ${paths.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB; single file of the same size`);
  const seeders: AgentHandle[] = [];
  for (let i = 0; i < 4; i++) {
    const seeder = await cluster.agent(`seed${i}`);
    seeders.push(seeder);
    await seeder.api.uploadFile(folder, GROUP);
    await seeder.api.uploadFile(single, GROUP);
  }
  const downloader = await cluster.agent("dl");
  // --aria-jobs 0 leaves the aria2c row out: a run that compares the agent's two rows takes a minute, not five.
  const aria = ariaJobs > 0 && (await has("aria2c")) && (await has("nginx"));
  if (!aria && ariaJobs > 0) console.error("aria2c or nginx is missing (apt-get install -y aria2 nginx-light): no aria2c -i row");
  const nginx = aria ? await startNginx(children, dir, dir) : undefined;

  const cpuOf = () => ({
    downloader: downloader.usage()?.cpuMs ?? NaN,
    seeders: seeders.reduce((sum, seeder) => sum + (seeder.usage()?.cpuMs ?? NaN), 0),
  });
  /** The engine's own time of the last download (what is left of a row's time: the agent putting it in place and recording it, for a folder a stat of each file). */
  let engineMs: number | undefined;
  /** A row downloads and returns its check and clean-up, which run after its time is taken. */
  const rows: Record<string, (round: number) => Promise<() => Promise<void>>> = {
    folder: async (round) => {
      const out = join(dir, `out-folder-${round}`);
      const info = await downloader.api.downloadFile(GROUP, "course", out);
      const done = await downloader.api.waitForDownload(info.id);
      if (done.state !== "complete") throw new Error(`folder download ${done.state}: ${done.error?.message}`);
      engineMs = done.summary?.durationMs;
      return async () => {
        const got = await countFiles(out);
        if (got.files !== paths.length || got.bytes !== bytes) throw new Error(`folder download holds ${got.files} files, ${got.bytes} bytes`);
        await downloader.api.stopShare(GROUP, "course");
        await rm(out, { recursive: true, force: true });
      };
    },
    file: async (round) => {
      const out = join(dir, `out-file-${round}.bin`);
      const info = await downloader.api.downloadFile(GROUP, "course.bin", out);
      const done = await downloader.api.waitForDownload(info.id);
      if (done.state !== "complete") throw new Error(`file download ${done.state}: ${done.error?.message}`);
      engineMs = done.summary?.durationMs;
      return async () => {
        await downloader.api.stopShare(GROUP, "course.bin");
        await rm(out, { force: true });
      };
    },
    // The floor (see the top): the same files and the same size written here, from memory.
    "tree here": async (round) => {
      const out = join(dir, `here-tree-${round}`);
      writeHere(out, paths, sizes, source);
      return () => rm(out, { recursive: true, force: true });
    },
    "file here": async (round) => {
      const out = join(dir, `here-file-${round}`);
      writeHere(out, ["course.bin"], [bytes], source);
      return () => rm(out, { recursive: true, force: true });
    },
    ...(nginx ? {
      "aria2c -i": async (round: number) => {
        const out = join(dir, `out-aria-${round}`);
        const list = join(dir, "aria-input.txt");
        await writeFile(list, paths.map((path) => `http://${nginx.address}/course/${path}\n  out=${path}\n`).join(""));
        const result = await run("aria2c", [
          "-i", list, "-d", out, `-j${ariaJobs}`, "--file-allocation=none", "--allow-overwrite=true", "--auto-file-renaming=false",
          "--console-log-level=warn", "--summary-interval=0", "--download-result=hide",
        ]);
        if (result.code !== 0) throw new Error(`aria2c failed: ${result.stdout}${result.stderr}`);
        return async () => {
          const got = await countFiles(out);
          if (got.files !== paths.length || got.bytes !== bytes) throw new Error(`aria2c -i left ${got.files} files, ${got.bytes} bytes`);
          await rm(out, { recursive: true, force: true });
        };
      },
    } : {}),
  };
  for (let round = 0; round < rounds; round++) {
    const order = Object.keys(rows);
    if (round % 2 === 1) order.reverse();
    for (const row of order) {
      await warmPageCache(dir, bytes);
      engineMs = undefined;
      const cpuBefore = cpuOf();
      const ownBefore = process.cpuUsage();
      const started = performance.now();
      const checkAndClean = await rows[row]!(round);
      const ms = Math.round(performance.now() - started);
      const cpuAfter = cpuOf();
      const own = process.cpuUsage(ownBefore);
      await checkAndClean();
      results.push({ round, row, ms });
      // CPU of the downloading agent and of the 4 seeders together during the row (all threads; aria2c's row: none of them).
      // The rows written here: this process's own CPU (of which the kernel's), the floor's cost.
      const cpuMs = row.endsWith(" here")
        ? { here: Math.round((own.user + own.system) / 1000), kernel: Math.round(own.system / 1000) }
        : { downloader: cpuAfter.downloader - cpuBefore.downloader, seeders: cpuAfter.seeders - cpuBefore.seeders };
      console.log(JSON.stringify({ round, row, ms, engineMs, cpuMs, load: loadavg()[0]!.toFixed(2) }));
      await downloader.api.clearDownloads().catch(() => undefined);
    }
  }
  const of = (row: string, round: number) => results.find((r) => r.row === row && r.round === round)?.ms ?? NaN;
  const best = (row: string) => Math.min(...results.filter((r) => r.row === row).map((r) => r.ms));
  console.log("\n| round | folder ms | file ms | aria2c -i ms | tree here ms | file here ms | folder / file | floor: (file + tree here - file here) / file | folder / aria2c -i |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (let round = 0; round < rounds; round++) {
    const [f, s, a, th, fh] = [of("folder", round), of("file", round), of("aria2c -i", round), of("tree here", round), of("file here", round)];
    console.log(`| ${round} | ${f} | ${s} | ${a} | ${th} | ${fh} | ${(f / s).toFixed(2)} | ${((s + th - fh) / s).toFixed(2)} | ${(f / a).toFixed(2)} |`);
  }
  const ratio = best("folder") / best("file");
  const floor = (best("file") + best("tree here") - best("file here")) / best("file");
  console.log(`\nbest against best: folder / file = ${ratio.toFixed(2)} (goal <= 1.5: ${ratio <= 1.5 ? "met" : "NOT met"}), folder / aria2c -i = ${(best("folder") / best("aria2c -i")).toFixed(2)}`);
  console.log(`floor, best against best: the tree written here costs ${best("tree here") - best("file here")} ms more than the file; with everything else free, folder / file would be ${floor.toFixed(2)}`);
} finally {
  await cluster.close();
  children.killAll();
  await rm(dir, { recursive: true, force: true });
}
