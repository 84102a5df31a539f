import { resolve } from "node:path";
import { Agent, request } from "undici";
import { fromProblem } from "../../../core/errors.js";
import type { PeerNodeApi } from "../node-api.js";
import { findRunningAgent } from "./control-file.js";
import type { CONTROL_METHODS } from "./server.js";

export type RemotePeerNode = PeerNodeApi & { close(): Promise<void> };

/**
 * Drives a background agent (`peer-agent …`) through its loopback control
 * endpoint. Paths are made absolute here, where the user typed them, because
 * the agent may run in another directory.
 */
export async function connectToAgent(options: { host: string; port: number; stateDir: string }): Promise<RemotePeerNode> {
  const control = await findRunningAgent(options.stateDir, `${options.host}:${options.port}`);
  const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  const call = async <T>(method: keyof typeof CONTROL_METHODS, ...args: string[]): Promise<T> => {
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
    listRequests: (groupId) => call("listRequests", groupId),
    acceptRequest: (groupId, userId) => call("acceptRequest", groupId, userId),
    rejectRequest: (groupId, userId) => call("rejectRequest", groupId, userId),
    listGroups: () => call("listGroups"),
    listFiles: (groupId) => call("listFiles", groupId),
    uploadFile: (path, groupId) => call("uploadFile", resolve(path), groupId),
    downloadFile: (groupId, fileName, destination, order = "rarest") => call("downloadFile", groupId, fileName, resolve(destination), order),
    waitForDownload: (id) => call("waitForDownload", id),
    listDownloads: () => call("listDownloads"),
    setRate: (direction, rate) => call("setRate", direction, rate),
    stopShare: (groupId, fileName) => call("stopShare", groupId, fileName),
    listShares: () => call("listShares"),
    close: () => dispatcher.close(),
  };
}
