import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "../../../core/free-port.js";
import { connectToAgent, type RemotePeerNode } from "../../src/control/client.js";
import { controlFilePath } from "../../src/control/control-file.js";

/** Real peer-agent processes for a test (run with tsx), each on a free loopback port with its state in `dir`. */
export class AgentProcesses {
  readonly #dir: string;
  readonly #children: ChildProcess[] = [];
  readonly #apis: RemotePeerNode[] = [];
  /** The latest process started under each name. */
  readonly #byName = new Map<string, ChildProcess>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Starts `peer-agent` with this tracker_info file (and `args`), and connects to its control endpoint once it is up;
   * `openFiles` limits its descriptors (util-linux's prlimit), as a service manager or a container may.
   */
  async start(name: string, trackerInfo: string, args: string[] = [], options: { openFiles?: number } = {}): Promise<{ address: string; api: RemotePeerNode }> {
    const port = await freePort();
    const stateDir = join(this.#dir, `agent-${name}`);
    const argv = [process.execPath, "--import", import.meta.resolve("tsx"), "peer-agent/src/main.ts", `127.0.0.1:${port}`, trackerInfo, "--state-dir", stateDir, ...args];
    if (options.openFiles !== undefined) argv.unshift("prlimit", `--nofile=${options.openFiles}:${options.openFiles}`, "--");
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, P2P_LOG_LEVEL: "warn" },
    });
    this.#children.push(child);
    this.#byName.set(name, child);
    let output = "";
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    // Starting tsx on a busy 2-core machine can take a while.
    const deadline = Date.now() + 90_000;
    while (!(await readFile(join(stateDir, "control.json")).catch(() => undefined))) {
      if (child.exitCode !== null) throw new Error(`agent ${name} exited:\n${output}`);
      if (Date.now() > deadline) throw new Error(`agent ${name} did not start within 90 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const api = await connectToAgent({ host: "127.0.0.1", port, stateDir });
    this.#apis.push(api);
    return { address: `127.0.0.1:${port}`, api };
  }

  /**
   * Kills the agent started as `name` with SIGKILL, as a crash or the OOM killer would: nothing of its own
   * shutdown runs. Its control.json is removed, so the next start() under that name waits for the new agent's.
   */
  async kill(name: string): Promise<void> {
    const child = this.#byName.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    await rm(controlFilePath(join(this.#dir, `agent-${name}`)), { force: true });
  }

  /** Closes every control connection and stops every agent (SIGTERM), waiting for each to exit. */
  async stopAll(): Promise<void> {
    for (const api of this.#apis) await api.close().catch(() => undefined);
    for (const child of this.#children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  }
}
