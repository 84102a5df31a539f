/**
 * The long form of the nemesis test (tracker-api/test/replication/nemesis):
 *   npm run nemesis -- --seconds 120 --seed 42 [--faults kill,freeze,wipe,cut]
 * Prints progress, then a summary; with violations, the history of the run and
 * the command that replays it, and exits 1.
 */
import { Command } from "commander";
import { ALL_FAULTS, type NemesisFault } from "../tracker-api/test/replication/nemesis/nemesis.js";
import { report, runNemesis } from "../tracker-api/test/replication/nemesis/run.js";

const program = new Command("nemesis")
  .option("--seconds <n>", "how long the clients write under faults", "60")
  .option("--seed <n>", "the run's seed (random when absent; printed either way)")
  .option("--faults <list>", `comma-separated, among ${ALL_FAULTS.join(",")}`, ALL_FAULTS.join(","))
  .parse();
const options = program.opts<{ seconds: string; seed?: string; faults: string }>();
const seed = options.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(options.seed);
const faults = options.faults.split(",").filter(Boolean) as NemesisFault[];
for (const fault of faults) {
  if (!ALL_FAULTS.includes(fault)) {
    console.error(`error: unknown fault ${fault} (known: ${ALL_FAULTS.join(", ")})`);
    process.exit(2);
  }
}
// Through process.exit, so the run's exit hook kills its trackers.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
console.log(`nemesis: seed ${seed}, ${options.seconds} s, faults ${faults.join(",")}`);
const started = Date.now();
const result = await runNemesis({ seed, seconds: Number(options.seconds), faults, log: (line) => console.log(line) });
console.log(report(result));
console.log(`took ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
process.exit(result.violations.length > 0 ? 1 : 0);
