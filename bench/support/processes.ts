/**
 * Child processes for the benches: run one to its end and time it, or keep
 * long-lived ones (servers, agents) in a set that is killed on exit. Only
 * processes started here are ever signalled, by their pid.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";

export interface RunResult {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** This process's CPU meanwhile, e.g. what in-process seeders spent serving the child. */
  parentCpuMs: number;
}

/** Children of `run` still running: killed if the bench ends first (see atExit). */
const runningNow = new Set<ChildProcess>();
let runHookInstalled = false;

/** Runs a command to its end, collecting its output. `onSpawn` gets the child (to signal it meanwhile). */
export function run(command: string, argv: string[], options: SpawnOptions = {}, onSpawn?: (child: ChildProcess) => void): Promise<RunResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const child = spawn(command, argv, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  if (!runHookInstalled) {
    runHookInstalled = true;
    atExit(() => {
      for (const left of runningNow) left.kill("SIGKILL");
    });
  }
  runningNow.add(child);
  child.on("exit", () => runningNow.delete(child));
  onSpawn?.(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      const used = process.cpuUsage(cpu);
      resolve({ ms: performance.now() - started, code, stdout, stderr, parentCpuMs: Math.round((used.user + used.system) / 1000) });
    });
  });
}

/** The last line a runner printed, parsed as JSON; a runner that died first is an error that carries its exit code and stderr. */
export function lastJsonLine<T>(result: RunResult, what: string): T {
  const last = result.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${what}: the runner printed no result (exit code ${result.code}): ${result.stderr.trim() || "(no stderr)"}`);
  }
}

export async function has(command: string): Promise<boolean> {
  return run("sh", ["-c", `command -v ${command}`]).then((r) => r.code === 0, () => false);
}

/**
 * Long-lived children (agents, nginx, aria2c, opentracker). `killAll` ends
 * every one still running (a stopped one is continued first, so it can die),
 * and runs synchronously, so it also works from an 'exit' handler.
 */
export class Children {
  readonly #running = new Set<ChildProcess>();

  spawn(command: string, argv: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn(command, argv, { stdio: "ignore", ...options });
    this.#running.add(child);
    child.on("exit", () => this.#running.delete(child));
    child.on("error", () => this.#running.delete(child));
    return child;
  }

  killAll(): void {
    for (const child of this.#running) {
      try {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    this.#running.clear();
  }
}

/** Waits until a child exits (or at once when it has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export interface ProcessUsage {
  /** User + system CPU so far. */
  cpuMs: number;
  /** Peak resident set size (VmHWM). */
  peakRssBytes: number;
}

/** CPU and peak RSS of a running process of ours, from /proc (Linux). */
export function processUsage(pid: number): ProcessUsage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { cpuMs: ticks * 10, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 };
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const exitHooks: (() => void)[] = [];
/**
 * Runs `hook` (synchronous: killing children, removing the tc qdisc) when
 * this process ends in any way: normally, on SIGINT/SIGTERM/SIGHUP, or on an
 * uncaught error. Hooks run once, newest first.
 */
export function atExit(hook: () => void): void {
  if (exitHooks.length === 0) {
    const runHooks = () => {
      for (const next of exitHooks.splice(0).reverse()) {
        try {
          next();
        } catch (error) {
          console.error(`cleanup failed: ${(error as Error).message}`);
        }
      }
    };
    process.on("exit", runHooks);
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
      process.on(signal, () => {
        runHooks();
        process.exit(code);
      });
    }
    for (const event of ["uncaughtException", "unhandledRejection"] as const) {
      process.on(event, (error: unknown) => {
        console.error(error);
        runHooks();
        process.exit(1);
      });
    }
  }
  exitHooks.push(hook);
}
