/**
 * npm run bench:first-piece -- [size MiB, default 256] [rounds, default 3]
 *
 * The fixed cost of a download through real agents (issue 12): a tracker in
 * this process, 4 seeder agent processes sharing the same file and one
 * downloader agent, driven as `client --agent` does. Each round logs the
 * downloader in again (a session whose grant the seeders have not seen),
 * runs download_file and prints one JSON line: the time to the first
 * verified piece, the steps to it (StartupTrace) and the time to complete.
 * Agents serve TLS by default; BENCH_AGENT_ARGS=--plain-http for plain HTTP.
 * No tc: loopback as it is.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, GROUP } from "./swarm/cluster.js";
import { Children, atExit } from "./support/processes.js";
import { generate, warmPageCache } from "./support/files.js";

const sizeMb = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 3);
const dir = await mkdtemp(join(tmpdir(), "first-piece-"));
const children = new Children();
atExit(() => children.killAll());
const cluster = await Cluster.start(join(dir, "c"), children);
try {
  const source = join(dir, "source.bin");
  await generate(source, sizeMb << 20);
  const seeders = [];
  for (let i = 0; i < 4; i++) {
    const s = await cluster.agent(`seed${i}`);
    await s.api.uploadFile(source, GROUP);
    seeders.push(s);
  }
  const dl = await cluster.agent("dl");
  for (let r = 0; r < rounds; r++) {
    await dl.api.logout();
    await dl.api.login("dl", "bench-password");
    await warmPageCache(dir, sizeMb << 20);
    const dest = join(dir, `out-${r}.bin`);
    const t0 = performance.now();
    const info = await dl.api.downloadFile(GROUP, "source.bin", dest);
    const tCmd = performance.now() - t0;
    const done = await dl.api.waitForDownload(info.id);
    const total = performance.now() - t0;
    console.log(JSON.stringify({ round: r, load: loadavg()[0]!.toFixed(2), state: done.state, err: done.error?.message, cmdMs: Math.round(tCmd), toCompleteMs: Math.round(total), engineMs: done.summary?.durationMs, firstPieceMs: done.summary?.firstPieceMs, startup: done.summary?.startup }));
    await dl.api.stopShare(GROUP, "source.bin").catch((e) => console.error("stopShare", e.message));
    await dl.api.clearDownloads().catch(() => undefined);
    await rm(dest, { force: true });
  }
} finally {
  await cluster.close();
  children.killAll();
  await rm(dir, { recursive: true, force: true });
}
