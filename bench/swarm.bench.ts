/**
 * npm run bench:swarm -- [--scenario 1,2,3,4,5] [--size 256] [--downloaders 6] [--rounds 2] [--only ours|anchor] [--trace]
 *
 * Issue 12's swarm benchmark, on loopback with every upload capped by tc
 * (needs root; see swarm/shaping.ts). Ours and an anchor run side by side in
 * each round; every download's SHA1 is checked.
 *   1. 4 seeders x 200 Mbit/s: ours vs aria2c -x4 -s4 -k1M from 4 nginx, vs size / summed caps.
 *   2. caps 400/200/100/20 Mbit/s.
 *   3. the same with 40 ms RTT (user-space delay proxies).
 *   4. one seeder killed and one hung at 30 %; and a peer hung before the start.
 *   5. flash crowd: 1 seeder + N downloading agents, 200 Mbit/s each, vs an aria2c BitTorrent swarm.
 * --trace prints each link's Mbit/s per 250 ms (who served what, when).
 * Prints JSON lines per row as they come, then markdown tables and goal verdicts.
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import type { FileMetadata } from "../core/api-types.js";
import { hashFile } from "../core/pieces.js";
import { generate } from "./support/files.js";
import { atExit, has } from "./support/processes.js";
import { runFlashCrowd } from "./swarm/scenarios/flash-crowd.js";
import { runSeederScenario, SEEDER_SCENARIOS } from "./swarm/scenarios/seeders.js";
import { GROUP } from "./swarm/cluster.js";

const { values: args } = parseArgs({
  options: {
    scenario: { type: "string", default: "1,2,3,4,5" },
    size: { type: "string", default: "256" },
    downloaders: { type: "string", default: "6" },
    rounds: { type: "string", default: "2" },
    only: { type: "string" },
    trace: { type: "boolean", default: false },
  },
});
const scenarios = args.scenario.split(",").map(Number);
const sizeMiB = Number(args.size);
const only = new Set(args.only ? [args.only] : ["ours", "anchor"]);
const rounds = Number(args.rounds);

if (process.getuid?.() !== 0) throw new Error("bench:swarm shapes loopback with tc: run it as root");
for (const tool of ["tc", "aria2c", "nginx", "opentracker", "mktorrent", "sha1sum", "curl"]) {
  if (!(await has(tool))) throw new Error(`${tool} is missing: apt-get install -y iproute2 aria2 nginx opentracker mktorrent curl`);
}

const dir = await mkdtemp(join(tmpdir(), "bench-swarm-"));
// Registered first, so it runs last: after the children that write there are gone.
atExit(() => rmSync(dir, { recursive: true, force: true }));
const report: string[] = [];
try {
  const source = join(dir, "source.bin");
  console.error(`generating ${sizeMiB} MiB in ${dir} ...`);
  await generate(source, sizeMiB << 20);
  const file: FileMetadata = { groupId: GROUP, fileName: basename(source), ...(await hashFile(source)) };
  const started = new Date();
  const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
  report.push(`bench:swarm ${started.toISOString()}, ${sizeMiB} MiB, ${rounds} rounds, agents ${process.env.BENCH_AGENT_ARGS?.includes("--plain-http") ? "plain HTTP" : "TLS (pinned)"}, load average at start ${load()}`);
  for (const id of scenarios) {
    const options = { dir, source, file, rounds, only, trace: args.trace };
    if (id === 5) report.push(...(await runFlashCrowd({ ...options, downloaders: Number(args.downloaders) })));
    else if (SEEDER_SCENARIOS[id]) report.push(...(await runSeederScenario(SEEDER_SCENARIOS[id]!, options)));
    else throw new Error(`no scenario ${id}`);
    report.push(`(load average after scenario ${id}: ${load()})`);
  }
  console.log(`\n${report.join("\n")}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
