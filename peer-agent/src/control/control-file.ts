import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Codes, ConflictError, UnavailableError } from "../../../core/errors.js";
import { defaultStateDir, parseListenAddress } from "../config.js";
import { writeFileAtomic } from "../state/atomic-file.js";
import { registeredAgent } from "./registry.js";

/**
 * control.json in the state directory (mode 0600): how a local CLI reaches a
 * running agent's control endpoint, and proof that it may. Whoever can read
 * the file is the agent's user; nobody else gets the token.
 */
export interface ControlFile {
  pid: number;
  /** The agent's public address, ip:port. */
  agent: string;
  /** Loopback port of the control endpoint. */
  controlPort: number;
  token: string;
}

export function controlFilePath(stateDir: string): string {
  return join(stateDir, "control.json");
}

export async function readControlFile(stateDir: string): Promise<ControlFile | undefined> {
  try {
    return JSON.parse(await readFile(controlFilePath(stateDir), "utf8")) as ControlFile;
  } catch {
    return undefined;
  }
}

export function writeControlFile(stateDir: string, content: ControlFile): Promise<void> {
  return writeFileAtomic(controlFilePath(stateDir), JSON.stringify(content), 0o600);
}

/** agent.pid in the state directory: the running agent's process id, for `kill` and service managers. */
export function pidFilePath(stateDir: string): string {
  return join(stateDir, "agent.pid");
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Refuses to start a second agent on the same state directory: both would rewrite its state. */
export async function assertStateDirFree(stateDir: string): Promise<void> {
  const existing = await readControlFile(stateDir);
  if (existing && existing.pid !== process.pid && isAlive(existing.pid)) {
    throw new ConflictError(
      `another agent (pid ${existing.pid}, ${existing.agent}) uses ${stateDir}; stop it, drive it with --agent ${existing.agent}, or choose another --state-dir`,
      Codes.STATE_DIR_IN_USE,
    );
  }
}

/** The running agent's control file, checked to belong to the agent at `address`. */
export async function findRunningAgent(stateDir: string, address: string): Promise<ControlFile> {
  const control = await readControlFile(stateDir);
  if (!control || !isAlive(control.pid)) {
    throw new UnavailableError(`no agent is running with state dir ${stateDir}; start one with peer-agent ${address} tracker_info.txt`, Codes.AGENT_NOT_RUNNING);
  }
  if (control.agent !== address) {
    throw new UnavailableError(`the agent using ${stateDir} serves ${control.agent}, not ${address}`, Codes.AGENT_NOT_RUNNING);
  }
  return control;
}

/**
 * The state directory of the agent at `address`: the one given, else the one
 * the user's list of running agents names, else the default for the address.
 */
export async function locateAgent(
  address: string,
  options: { stateDir?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  if (options.stateDir !== undefined) return options.stateDir;
  const env = options.env ?? process.env;
  const registered = await registeredAgent(address, env);
  if (registered && isAlive(registered.pid)) return registered.stateDir;
  return defaultStateDir(parseListenAddress(address), env, options.cwd);
}
