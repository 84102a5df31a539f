import { randomBytes, timingSafeEqual } from "node:crypto";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { AppError, Codes, NotFoundError, PayloadTooLargeError, UnauthorizedError, ValidationError } from "../../../core/errors.js";
import { sendProblem } from "../http/problem.js";
import type { PeerNodeApi } from "../node-api.js";
import { controlFilePath, pidFilePath, writeControlFile } from "./control-file.js";
import { writeFileAtomic } from "../state/atomic-file.js";
import { registerAgent, unregisterAgent } from "./registry.js";
import { AGENT } from "../config.js";

/** The PeerNodeApi methods a local CLI may call, with their arity. */
export const CONTROL_METHODS = {
  status: 0, createUser: 2, login: 2, logout: 0, createGroup: 1, joinGroup: 1, leaveGroup: 1, removeMember: 2, changePassword: 2, listRequests: 1,
  acceptRequest: 2, rejectRequest: 2, listGroups: 0, listFiles: 1, uploadFile: 2, downloadFile: 4,
  waitForDownload: 1, listDownloads: 0, pauseDownload: 2, resumeDownload: 2, cancelDownload: 2, clearDownloads: 0,
  setRate: 2, stopShare: 2, listShares: 0,
} as const satisfies Partial<Record<keyof PeerNodeApi, number>>;

export interface ControlServerOptions {
  /** `POST /rpc/stop`: the caller asks the whole agent to stop; called after the answer is sent. */
  onStop: () => void;
  /** Where the user's list of running agents is (XDG_STATE_HOME). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Loopback-only RPC endpoint for the CLI: `POST /rpc/<method>` with a JSON
 * array of arguments and the token from control.json. It listens on
 * 127.0.0.1 whatever address the agent serves pieces on. While it runs, the
 * state directory holds control.json and agent.pid, and the user's list of
 * running agents names the state directory; close() removes all three.
 */
export async function startControlServer(
  node: PeerNodeApi,
  stateDir: string,
  agentAddress: string,
  options: ControlServerOptions,
): Promise<{ close(): Promise<void> }> {
  const token = randomBytes(32).toString("base64url");
  const server: Server = createServer((req, res) => {
    handle(node, token, options.onStop, req, res).catch((error: unknown) => {
      // The caller is this machine's user: an unexpected failure is told as it is.
      sendProblem(res, error instanceof AppError ? error : new AppError(500, Codes.INTERNAL, (error as Error).message));
    });
  });
  server.requestTimeout = 0; // waitForDownload may wait as long as a download takes
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await writeControlFile(stateDir, { pid: process.pid, agent: agentAddress, controlPort: port, token });
  // Whole or absent: a service manager or a script reading it as it is written must never see it empty (seen in CI).
  await writeFileAtomic(pidFilePath(stateDir), `${process.pid}\n`, 0o644);
  // Without a writable home the agent still runs; only finding it by address alone is lost.
  await registerAgent(agentAddress, { pid: process.pid, stateDir }, options.env).catch((error: unknown) => {
    process.emitWarning(`could not add this agent to the list of running agents: ${(error as Error).message}`);
  });
  return {
    async close() {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await unregisterAgent(agentAddress, options.env).catch(() => undefined);
      await rm(pidFilePath(stateDir), { force: true });
      await rm(controlFilePath(stateDir), { force: true });
    },
  };
}

async function handle(node: PeerNodeApi, token: string, onStop: () => void, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const presented = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "");
  const expected = Buffer.from(token);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new UnauthorizedError("control token missing or wrong (see control.json in the state directory)", Codes.CONTROL_TOKEN);
  }
  const method = /^\/rpc\/([A-Za-z]+)$/.exec(req.url ?? "")?.[1];
  if (req.method === "POST" && method === "stop") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ pid: process.pid }), () => onStop());
    return;
  }
  if (req.method !== "POST" || !method || !Object.hasOwn(CONTROL_METHODS, method)) {
    throw new NotFoundError(`no control method ${req.url}`, Codes.ROUTE_NOT_FOUND);
  }
  const args = await readArgs(req);
  const arity = CONTROL_METHODS[method as keyof typeof CONTROL_METHODS];
  if (args.length !== arity || !args.every((a) => typeof a === "string")) {
    throw new ValidationError(`${method} takes ${arity} string arguments`, Codes.BAD_ARGUMENT);
  }
  const call = node[method as keyof typeof CONTROL_METHODS] as (...a: string[]) => Promise<unknown>;
  const result = await call.apply(node, args as string[]);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(result ?? null));
}

async function readArgs(req: IncomingMessage): Promise<unknown[]> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > AGENT.CONTROL_MAX_BODY_BYTES) throw new PayloadTooLargeError("control request too large", Codes.PAYLOAD_TOO_LARGE);
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8") || "[]");
  } catch {
    throw new ValidationError("body must be a JSON array of arguments", Codes.BAD_ARGUMENT);
  }
  if (!Array.isArray(parsed)) throw new ValidationError("body must be a JSON array of arguments", Codes.BAD_ARGUMENT);
  return parsed;
}
