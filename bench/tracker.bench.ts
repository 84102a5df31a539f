/**
 * npm run bench:tracker — throughput and p99 of the tracker's hottest read
 * (listing a group of 10,000 files) and of share writes, each against a bare
 * Express route returning the same JSON in the same process, as the reference.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import autocannon from "autocannon";
import express from "express";
import { openDatabase } from "../tracker-api/src/db/open.js";
import { createApp } from "../tracker-api/src/http/app.js";
import { loadGrantKey } from "../tracker-api/src/grant-key.js";

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 5);
const FILES = 10_000;

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function run(title: string, options: autocannon.Options) {
  const result = await autocannon({ duration: DURATION_S, connections: 10, ...options });
  const line = { title, requestsPerSecond: Math.round(result.requests.average), p99Ms: result.latency.p99, errors: result.errors, non2xx: result.non2xx };
  console.log(JSON.stringify(line));
  return line;
}

const dir = await mkdtemp(join(tmpdir(), "bench-tracker-"));
const db = await openDatabase(join(dir, "tracker.db"));
const tracker = await listen(createApp(db, { trackerId: "bench", grantKey: await loadGrantKey("bench") }));
try {
  const post = (path: string, body: unknown, token?: string) => fetch(`${tracker.url}${path}`, {
    method: "POST", body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  }).then((r) => r.json() as Promise<Record<string, string>>);
  await post("/users", { userId: "bench", password: "pw" });
  const { token } = await post("/sessions", { userId: "bench", password: "pw", peerAddress: "127.0.0.1:7001" });
  await post("/groups", { groupId: "big" }, token);
  const now = new Date();
  const hash = "a".repeat(40);
  await db.sharedFile.createMany({ data: Array.from({ length: FILES }, (_, i) => ({
    groupId: "big", fileName: `file-${i}.bin`, size: BigInt(1024), sha1: hash, pieceSize: 524288, pieceHashes: JSON.stringify([hash]), sharedAt: now,
  })) });
  await db.holding.createMany({ data: Array.from({ length: FILES }, (_, i) => ({
    groupId: "big", fileName: `file-${i}.bin`, userId: "bench", piecesHeld: 1, updatedAt: now,
  })) });
  const auth = { authorization: `Bearer ${token}` };
  const listing = await (await fetch(`${tracker.url}/groups/big/files`, { headers: auth })).json();

  const bare = express();
  bare.get("/files", (_req, res) => { res.json(listing); });
  bare.post("/files", express.json(), (req, res) => { res.status(201).json(req.body); });
  const reference = await listen(bare);
  try {
    const refList = await run("bare express: same 10,000-file JSON", { url: `${reference.url}/files` });
    const list = await run("tracker: list 10,000 files", { url: `${tracker.url}/groups/big/files`, headers: auth });
    console.log(`listing ratio tracker/bare: ${(list.requestsPerSecond / refList.requestsPerSecond).toFixed(2)}`);

    let n = 0;
    const shareBody = () => JSON.stringify({ fileName: `w-${n++}.bin`, size: 1024, sha1: hash, pieceSize: 524288, pieceHashes: [hash] });
    const refWrite = await run("bare express: echo a share body", {
      url: `${reference.url}/files`, method: "POST", headers: { "content-type": "application/json" }, body: shareBody(),
    });
    const write = await run("tracker: share writes", {
      url: `${tracker.url}/groups/big/files`, method: "POST", headers: { ...auth, "content-type": "application/json" },
      requests: [{ setupRequest: (req) => ({ ...req, body: shareBody() }) }],
    });
    console.log(`share writes ratio tracker/bare: ${(write.requestsPerSecond / refWrite.requestsPerSecond).toFixed(2)}`);
  } finally {
    reference.server.close();
  }
} finally {
  tracker.server.close();
  await db.$disconnect();
  await rm(dir, { recursive: true, force: true });
}
