import { createReadStream } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { AppError, NotFoundError, RangeNotSatisfiableError, toProblem } from "../../../core/errors.js";
import { parseRange } from "../../../core/range.js";
import { isIdentifier, isSha1Hex } from "../../../core/validation.js";
import type { GrantCheck, ServedFile, ServedFiles } from "./served-file.js";

const FILE_ROUTE = /^\/groups\/([^/]+)\/files\/([^/]+?)(\/bitfield)?$/;

export interface PeerServerOptions {
  files: ServedFiles;
  checkGrant: GrantCheck;
  /** Slow-loris protection: the whole request head must arrive within this. */
  headersTimeoutMs?: number;
}

/**
 * The agent's public HTTP surface: a file's bitfield and its bytes by Range,
 * only for verified pieces of files shared in the grant's group.
 */
export function createPeerServer(options: PeerServerOptions): Server {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((error: unknown) => sendError(res, error));
  });
  server.headersTimeout = options.headersTimeoutMs ?? 10_000;
  server.requestTimeout = 60_000;
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, options: PeerServerOptions): Promise<void> {
  const url = new URL(req.url ?? "/", "http://agent");
  const match = FILE_ROUTE.exec(url.pathname);
  if (!match || (req.method !== "GET" && req.method !== "HEAD")) {
    throw new NotFoundError(`no route ${req.method} ${url.pathname}`, "ROUTE_NOT_FOUND");
  }
  const groupId = decodeURIComponent(match[1]!);
  const sha1 = decodeURIComponent(match[2]!);
  if (!isIdentifier(groupId) || !isSha1Hex(sha1)) throw new NotFoundError("no such file", "FILE_NOT_SHARED");

  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
  await options.checkGrant(bearer, { groupId, sha1 });
  const file = options.files.find(groupId, sha1);
  if (!file) throw new NotFoundError("this peer does not share that file in that group", "FILE_NOT_SHARED");

  if (match[3]) return sendBitfield(res, file);
  return sendBytes(req, res, file);
}

function sendBitfield(res: ServerResponse, file: ServedFile): void {
  const body = JSON.stringify({
    sha1: file.sha1,
    pieceCount: file.verified.size,
    piecesHeld: file.verified.count,
    bitfield: file.verified.toBase64(),
  });
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(body);
}

function sendBytes(req: IncomingMessage, res: ServerResponse, file: ServedFile): void {
  const header = req.headers.range;
  let start = 0;
  let end = file.size - 1;
  if (header !== undefined) ({ start, end } = parseRange(header, file.size));
  if (file.size > 0 && !piecesVerified(file, start, end)) {
    throw new RangeNotSatisfiableError("the range covers pieces this peer has not verified yet", "PIECES_NOT_HELD", {
      size: file.size,
    });
  }
  const length = file.size === 0 ? 0 : end - start + 1;
  const headers: Record<string, string | number> = {
    "content-type": "application/octet-stream",
    "content-length": length,
    "accept-ranges": "bytes",
  };
  if (header !== undefined) headers["content-range"] = `bytes ${start}-${end}/${file.size}`;
  res.writeHead(header !== undefined ? 206 : 200, headers);
  if (req.method === "HEAD" || length === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(file.path, { start, end });
  stream.on("error", () => res.destroy());
  res.on("close", () => stream.destroy());
  stream.pipe(res);
}

function piecesVerified(file: ServedFile, start: number, end: number): boolean {
  const first = Math.floor(start / file.pieceSize);
  const last = Math.floor(end / file.pieceSize);
  for (let piece = first; piece <= last; piece++) if (!file.verified.has(piece)) return false;
  return true;
}

function sendError(res: ServerResponse, error: unknown): void {
  const known = error instanceof AppError ? error : new AppError(500, "INTERNAL", "internal error");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (known instanceof RangeNotSatisfiableError && typeof known.extra?.size === "number") {
    headers["content-range"] = `bytes */${known.extra.size}`;
  }
  if (known.status === 401) headers["www-authenticate"] = 'Bearer realm="peer"';
  res.writeHead(known.status, headers);
  res.end(JSON.stringify(toProblem(known)));
}
