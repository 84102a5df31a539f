import { resolve } from "node:path";
import { Agent, request } from "undici";
import { fromProblem } from "../../../core/errors.js";
import { keepDirectoryMark } from "../destination.js";
import type { PeerNodeApi } from "../node-api.js";
import { findRunningAgent, isAlive, locateAgent } from "./control-file.js";
import type { CONTROL_METHODS } from "./server.js";
import { AGENT } from "../config.js";

export type RemotePeerNode = PeerNodeApi & {
  /** The agent's process id. */
  pid: number;
  /** Asks the agent to stop (as SIGTERM does); resolves once it has answered, not once it has exited. */
  stop(): Promise<void>;
  close(): Promise<void>;
};

/**
 * Drives a background agent (`peer-agent …`) through its loopback control
 * endpoint. Paths are made absolute here, where the user typed them, because
 * the agent may run in another directory. Without a state directory the agent
 * is looked up by its address (see locateAgent).
 */
export async function connectToAgent(options: {
  host: string;
  port: number;
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}): Promise<RemotePeerNode> {
  const address = `${options.host}:${options.port}`;
  const control = await findRunningAgent(await locateAgent(address, options), address);
  const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  const call = async <T>(method: keyof typeof CONTROL_METHODS | "stop", ...args: string[]): Promise<T> => {
    const response = await request(`http://127.0.0.1:${control.controlPort}/rpc/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${control.token}`, "content-type": "application/json" },
      body: JSON.stringify(args),
      dispatcher,
    });
    const parsed = (await response.body.json()) as unknown;
    if (response.statusCode >= 400) throw fromProblem(response.statusCode, parsed);
    return parsed as T;
  };
  return {
    status: () => call("status"),
    createUser: (userId, password) => call("createUser", userId, password),
    login: (userId, password) => call("login", userId, password),
    logout: () => call("logout"),
    createGroup: (groupId) => call("createGroup", groupId),
    joinGroup: (groupId) => call("joinGroup", groupId),
    leaveGroup: (groupId) => call("leaveGroup", groupId),
    removeMember: (groupId, userId) => call("removeMember", groupId, userId),
    changePassword: (currentPassword, newPassword) => call("changePassword", currentPassword, newPassword),
    listRequests: (groupId) => call("listRequests", groupId),
    acceptRequest: (groupId, userId) => call("acceptRequest", groupId, userId),
    rejectRequest: (groupId, userId) => call("rejectRequest", groupId, userId),
    listGroups: () => call("listGroups"),
    listFiles: (groupId) => call("listFiles", groupId),
    uploadFile: (path, groupId) => call("uploadFile", resolve(path), groupId),
    downloadFile: (groupId, fileName, destination, order = "rarest") => call("downloadFile", groupId, fileName, keepDirectoryMark(destination, resolve(destination)), order),
    waitForDownload: (id) => call("waitForDownload", id),
    listDownloads: () => call("listDownloads"),
    setRate: (direction, rate) => call("setRate", direction, rate),
    pauseDownload: (groupId, fileName) => call("pauseDownload", groupId, fileName),
    resumeDownload: (groupId, fileName) => call("resumeDownload", groupId, fileName),
    cancelDownload: (groupId, fileName) => call("cancelDownload", groupId, fileName),
    clearDownloads: () => call("clearDownloads"),
    stopShare: (groupId, fileName) => call("stopShare", groupId, fileName),
    listShares: () => call("listShares"),
    pid: control.pid,
    stop: () => call("stop"),
    close: () => dispatcher.close(),
  };
}

/**
 * Asks the agent to stop, as SIGTERM would (downloads resume at its next
 * login), and waits until its process is gone, so that a script can start
 * another agent on the same address right after. Returns the agent's pid.
 */
export async function stopAgent(node: RemotePeerNode, timeoutMs = AGENT.STOP_WAIT_MS): Promise<number> {
  const { pid } = node;
  await node.stop();
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`the agent (pid ${pid}) was asked to stop but is still running; kill -TERM ${pid}`);
    await new Promise((resolve) => setTimeout(resolve, AGENT.STOP_POLL_MS));
  }
  return pid;
}
