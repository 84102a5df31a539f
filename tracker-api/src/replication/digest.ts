import { createHash } from "node:crypto";
import type { TrackerDb } from "../db/open.js";

/**
 * SHA-256 over this tracker's canonical state: users, sessions (without when
 * they were last seen), groups, memberships, join requests, shared files and
 * holdings (without when they were last announced), each table in key order.
 * Two trackers with the same digest hold the same state.
 */
export async function stateDigest(db: TrackerDb): Promise<string> {
  const [users, sessions, groups, members, requests, files, holdings] = await db.$transaction([
    db.user.findMany({ orderBy: { id: "asc" } }),
    db.session.findMany({ orderBy: { tokenHash: "asc" }, select: { tokenHash: true, userId: true, createdAt: true, expiresAt: true } }),
    db.group.findMany({ orderBy: { id: "asc" } }),
    db.membership.findMany({ orderBy: [{ groupId: "asc" }, { userId: "asc" }] }),
    db.joinRequest.findMany({ orderBy: [{ groupId: "asc" }, { userId: "asc" }] }),
    db.sharedFile.findMany({ orderBy: [{ groupId: "asc" }, { fileName: "asc" }] }),
    db.holding.findMany({
      orderBy: [{ groupId: "asc" }, { fileName: "asc" }, { userId: "asc" }],
      select: { groupId: true, fileName: true, userId: true, piecesHeld: true },
    }),
  ]);
  const hash = createHash("sha256");
  const tables = { users, sessions, groups, members, requests, files, holdings };
  for (const [name, rows] of Object.entries(tables)) {
    hash.update(`${name}\n`);
    for (const row of rows) hash.update(`${JSON.stringify(row, canonical)}\n`);
  }
  return hash.digest("hex");
}

function canonical(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  return value;
}
