import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { agentDirName, parseListenAddress, userStateRoot } from "../config.js";
import { writeFileAtomic } from "../state/atomic-file.js";

/**
 * The user's list of running agents: one small file per listening address in
 * `<user state dir>/running/`, naming the agent's state directory. `client
 * --agent IP:PORT` looks here first, so it finds an agent from any folder,
 * whatever --state-dir the agent was started with. The file holds no secret:
 * the control token stays in the state directory's control.json.
 */
export interface RegistryEntry {
  pid: number;
  stateDir: string;
}

function entryPath(address: string, env: NodeJS.ProcessEnv): string {
  return join(userStateRoot(env), "running", `${agentDirName(parseListenAddress(address))}.json`);
}

export async function registerAgent(address: string, entry: RegistryEntry, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const path = entryPath(address, env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, JSON.stringify(entry), 0o600);
}

/** Removes the entry if it is still this process's (a newer agent may have taken the address since). */
export async function unregisterAgent(address: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if ((await registeredAgent(address, env))?.pid === process.pid) await rm(entryPath(address, env), { force: true });
}

export async function registeredAgent(address: string, env: NodeJS.ProcessEnv = process.env): Promise<RegistryEntry | undefined> {
  try {
    const entry = JSON.parse(await readFile(entryPath(address, env), "utf8")) as Partial<RegistryEntry>;
    return typeof entry.pid === "number" && typeof entry.stateDir === "string" ? (entry as RegistryEntry) : undefined;
  } catch {
    return undefined;
  }
}
