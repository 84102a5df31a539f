/**
 * Our side of a swarm bench: one real tracker (in this process: it only
 * answers logins, peer lists and announces, never file bytes) and real peer
 * agents, each its own process (the bundled `peer-agent` program, driven
 * through its loopback control endpoint as `client --agent` does), so each
 * one's CPU, RSS and upload are its own, and one can be killed or stopped.
 */
import { once } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import type { Server } from "node:http";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { parseTrackerInfo, type TrackerAddress } from "../../core/tracker-info.js";
import { TrackerClient } from "../../core/tracker-client.js";
import { openDatabase } from "../../tracker-api/src/db/open.js";
import { loadGrantKey } from "../../tracker-api/src/grant-key.js";
import { createApp } from "../../tracker-api/src/http/app.js";
import { createTracker } from "../../tracker-api/src/tracker.js";
import { connectToAgent, type RemotePeerNode } from "../../peer-agent/src/control/client.js";
import { bundled } from "../support/bundle.js";
import { Children, exited, processUsage, sleep, type ProcessUsage } from "../support/processes.js";

export const GROUP = "bench";
const PASSWORD = "bench-password";

/** A free TCP port on `host` (asked of the kernel, then released). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

export interface AgentHandle {
  name: string;
  host: string;
  port: number;
  address: string;
  process: ChildProcess;
  api: RemotePeerNode;
  usage(): ProcessUsage | undefined;
}

export class Cluster {
  readonly dir: string;
  readonly trackers: TrackerAddress[];
  readonly agents: AgentHandle[] = [];
  readonly #children: Children;
  readonly #server: Server;
  readonly #db: Awaited<ReturnType<typeof openDatabase>>;
  readonly #agentArgv: string[];
  readonly #trackerInfoPath: string;
  #owner: AgentHandle | undefined;

  private constructor(dir: string, children: Children, server: Server, db: Awaited<ReturnType<typeof openDatabase>>, trackers: TrackerAddress[], agentArgv: string[], trackerInfoPath: string) {
    this.dir = dir;
    this.#children = children;
    this.#server = server;
    this.#db = db;
    this.trackers = trackers;
    this.#agentArgv = agentArgv;
    this.#trackerInfoPath = trackerInfoPath;
  }

  static async start(dir: string, children: Children): Promise<Cluster> {
    await mkdir(dir, { recursive: true });
    const db = await openDatabase(join(dir, "tracker.db"));
    const app = createApp(createTracker({ db, id: "tracker-1", grantKey: await loadGrantKey("tracker-1", dir) }));
    const server: Server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    const info = `127.0.0.1:${(server.address() as AddressInfo).port}\n`;
    const trackerInfoPath = join(dir, "tracker_info.txt");
    await writeFile(trackerInfoPath, info);
    // BENCH_AGENT_ROOT (a directory holding another commit's tree, e.g. from `git archive main`) runs that code's agents instead: two commits side by side in one session.
    const otherRoot = process.env.BENCH_AGENT_ROOT;
    const agentArgv = await bundled("peer-agent/src/main.ts", otherRoot ? "peer-agent-other" : "peer-agent", otherRoot);
    return new Cluster(dir, children, server, db, parseTrackerInfo(info), agentArgv, trackerInfoPath);
  }

  /**
   * Starts an agent process as user `name`, logged in and a member of the
   * bench group (the first agent creates it and accepts the others).
   */
  async agent(name: string, host = "127.0.0.1"): Promise<AgentHandle> {
    const port = await freePort(host);
    const { child, api } = await this.#launch(name, host, port);
    await api.createUser(name, PASSWORD);
    await api.login(name, PASSWORD);
    const handle: AgentHandle = { name, host, port, address: `${host}:${port}`, process: child, api, usage: () => processUsage(handle.process.pid!) };
    if (!this.#owner) {
      await api.createGroup(GROUP);
      this.#owner = handle;
    } else {
      await api.joinGroup(GROUP);
      await this.#owner.api.acceptRequest(GROUP, name);
    }
    this.agents.push(handle);
    return handle;
  }

  /** Starts a killed agent again, on its address and state: it logs in and serves what it served. */
  async restart(agent: AgentHandle): Promise<void> {
    await agent.api.close().catch(() => undefined);
    const { child, api } = await this.#launch(agent.name, agent.host, agent.port);
    await api.login(agent.name, PASSWORD);
    agent.process = child;
    agent.api = api;
  }

  async #launch(name: string, host: string, port: number): Promise<{ child: ChildProcess; api: RemotePeerNode }> {
    const stateDir = join(this.dir, `agent-${name}`);
    // BENCH_AGENT_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the agents.
    const nodeArgs = process.env.BENCH_AGENT_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
    // BENCH_AGENT_ARGS (e.g. "--plain-http") adds agent options: agents serve TLS by default, as users run them.
    const agentArgs = process.env.BENCH_AGENT_ARGS?.split(" ").filter(Boolean) ?? [];
    const child = this.#children.spawn(process.execPath, [...nodeArgs, ...this.#agentArgv, `${host}:${port}`, this.#trackerInfoPath, "--state-dir", stateDir, "--log-level", "warn", ...agentArgs], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    for (let tries = 0; ; tries++) {
      if (child.exitCode !== null) throw new Error(`agent ${name} exited with ${child.exitCode}`);
      try {
        // A killed agent's control file is still there: only a connection from the new process counts.
        const api = await connectToAgent({ host, port, stateDir });
        await api.status();
        return { child, api };
      } catch (error) {
        if (tries > 200) throw error;
        await sleep(50);
      }
    }
  }

  /** A tracker session of a member who runs no agent: for a downloader run outside an agent (download-runner). */
  async member(name: string, peerAddress: string): Promise<TrackerClient> {
    const client = new TrackerClient(this.trackers);
    await client.createUser({ userId: name, password: PASSWORD });
    await client.login({ userId: name, password: PASSWORD, peerAddress });
    await client.requestJoin(GROUP);
    await this.#owner!.api.acceptRequest(GROUP, name);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all(this.agents.map((agent) => agent.api.close().catch(() => undefined)));
    // SIGTERM first: an agent stops cleanly (and writes its --cpu-prof profile); SIGKILL after 3 s.
    await Promise.all(this.agents.map(async (agent) => {
      agent.process.kill("SIGCONT");
      agent.process.kill("SIGTERM");
      await Promise.race([exited(agent.process), sleep(3000)]);
    }));
    this.#children.killAll();
    this.#server.closeAllConnections();
    await new Promise((done) => this.#server.close(done));
    await this.#db.$disconnect();
  }
}
