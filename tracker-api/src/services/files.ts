import type { AnnounceRequest, AnnounceResult, FileMetadata, FilePage, FileView, FolderManifest, ManifestEntry, PeerView, ShareFileRequest } from "../../../core/api-types.js";
import { Codes, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from "../../../core/errors.js";
import { pieceCount } from "../../../core/pieces.js";
import type { TrackerDb, Tx } from "../db/open.js";
import { inChunks } from "../db/chunks.js";
import { Prisma } from "../generated/prisma/client.js";
import { keyAfter, type PageRequest } from "../domain/paging.js";
import { checkShareMetadata, shareOutcome, storedManifest } from "../domain/share-rules.js";
import { TRACKER } from "../config.js";
import type { SerializedJson } from "../serialized-json.js";
import type { NewEvent } from "../replication/events.js";
import type { ServiceContext } from "./context.js";
import { requireMember } from "./groups.js";
import type { Actor } from "./sessions.js";


// The queries on every listing and every share are plain SQL (portable: SQLite
// and PostgreSQL): Prisma's model API costs several times as much per query.

/** A file as listed (its group by name), with its holders and how many of them are online, in one query. */
async function toView(
  tx: Tx, groupName: string, file: { groupId: string; fileName: string; size: bigint; sha1: string; pieceSize: number; fileCount: number | null }, now: number,
): Promise<FileView> {
  const holders = await tx.$queryRaw<{ userId: string; name: string; online: bigint | number | boolean }[]>`
    SELECT h."userId", u."name", EXISTS (
      SELECT 1 FROM "Session" s
      WHERE s."userId" = h."userId" AND s."lastSeenAt" > ${new Date(now - TRACKER.ONLINE_WINDOW_MS)} AND s."expiresAt" > ${new Date(now)}
    ) AS "online"
    FROM "Holding" h JOIN "User" u ON u."id" = h."userId" WHERE h."groupId" = ${file.groupId} AND h."fileName" = ${file.fileName}
    ORDER BY u."name" ASC`;
  return {
    groupId: groupName,
    fileName: file.fileName,
    size: Number(file.size),
    sha1: file.sha1,
    pieceCount: pieceCount(Number(file.size), file.pieceSize),
    peersOnline: holders.filter((h) => Boolean(Number(h.online))).length,
    sharedBy: holders.map((h) => h.name),
    ...(file.fileCount !== null ? { fileCount: file.fileCount } : {}),
  };
}

type ExistingFile = {
  fileName: string; size: bigint; sha1: string; pieceSize: number; pieceHashes: string; sharedAt: Date; fileCount: number | null; manifest: string | null;
};

export async function shareFile(
  tracker: ServiceContext,
  actor: Actor,
  groupName: string,
  input: ShareFileRequest,
): Promise<{ created: boolean; file: FileView }> {
  checkShareMetadata(input);
  const now = new Date(tracker.clock());
  let groupId = "";
  const shared = await tracker.outbox.write(async (tx, record) => {
    // The group, membership, the file under that name, whether the caller counts as online and, unless the caller
    // holds the file already, how many files the caller shares (the quota), in one query: each statement costs
    // 0.3-0.7 ms of Prisma's client here, and shares are the tracker's most frequent write (bench:tracker).
    const [row] = await tx.$queryRaw<({ groupId: string; member: string | null; online: unknown; shares: number | bigint | null } & Partial<ExistingFile>)[]>`
      SELECT g."id" AS "groupId", m."userId" AS "member", f."fileName", f."size", f."sha1", f."pieceSize", f."pieceHashes", f."sharedAt", f."fileCount", f."manifest",
        EXISTS (
          SELECT 1 FROM "Session" s
          WHERE s."userId" = m."userId" AND s."lastSeenAt" > ${new Date(now.getTime() - TRACKER.ONLINE_WINDOW_MS)} AND s."expiresAt" > ${now}
        ) AS "online",
        CASE WHEN EXISTS (SELECT 1 FROM "Holding" h WHERE h."groupId" = m."groupId" AND h."fileName" = ${input.fileName} AND h."userId" = m."userId")
          THEN NULL ELSE (SELECT COUNT(*) FROM "Holding" h WHERE h."userId" = m."userId") END AS "shares"
      FROM "Group" g
      JOIN "Membership" m ON m."groupId" = g."id" AND m."userId" = ${actor.userId}
      LEFT JOIN "SharedFile" f ON f."groupId" = m."groupId" AND f."fileName" = ${input.fileName}
      WHERE g."name" = ${groupName}`;
    if (!row) await requireMember(tx, actor, groupName);
    groupId = row!.groupId;
    const existing = row?.fileName != null ? (row as ExistingFile) : undefined;
    const manifest = storedManifest(input);
    const outcome = shareOutcome(existing && { sha1: existing.sha1, manifest: existing.manifest ?? null }, { sha1: input.sha1, manifest });
    if (outcome === "name-taken") {
      throw new ConflictError(
        `"${input.fileName}" is already shared in "${groupName}" with different content; rename your file`,
        Codes.FILE_NAME_TAKEN,
      );
    }
    const file: ExistingFile = existing ? { ...existing, fileCount: existing.fileCount === null ? null : Number(existing.fileCount), manifest: existing.manifest ?? null } : {
      fileName: input.fileName, size: BigInt(input.size), sha1: input.sha1,
      pieceSize: input.pieceSize, pieceHashes: JSON.stringify(input.pieceHashes), sharedAt: now,
      fileCount: input.manifest?.length ?? null, manifest,
    };
    // Only a new holding counts against the quota (shares is null when the caller holds the file already).
    const shares = row!.shares === null ? undefined : Number(row!.shares);
    if (shares !== undefined && shares >= tracker.quotas.filesShared) {
      throw new ForbiddenError(`you share ${shares} files, the most one user may share; stop sharing some first`, Codes.QUOTA_EXCEEDED);
    }
    const piecesHeld = input.pieceHashes.length;
    await record({
      type: "file.shared",
      payload: {
        groupId, fileName: file.fileName, size: Number(file.size), sha1: file.sha1, pieceSize: file.pieceSize,
        pieceHashes: file.pieceHashes, sharedAt: file.sharedAt.toISOString(), userId: actor.userId, piecesHeld,
        ...(file.manifest !== null ? { fileCount: file.fileCount!, manifest: file.manifest } : {}),
      },
    });
    // Read back from the rows the projection wrote: holders of the same content who had left count again.
    return { created: outcome === "new-file", file: await toView(tx, groupName, { groupId, ...file }, now.getTime()) };
  });
  return shared;
}

/**
 * One page of a group's files, by name, with how many of their holders are
 * online (members only). Served from the group's cached file list (see
 * file-lists.ts): one query that checks membership and finds which of the
 * page's holders are online. A list not loaded yet is loaded only for a member.
 */
export async function listFiles(tracker: ServiceContext, actor: Actor, groupName: string, page: PageRequest): Promise<SerializedJson<FilePage>> {
  const { db } = tracker;
  const after = keyAfter(page.cursor, "files", groupName, 1)?.[0];
  let files = tracker.fileLists.loaded(groupName);
  if (files === undefined) {
    const groupId = await requireMember(db, actor, groupName);
    files = tracker.fileLists.list(groupName, groupId);
  }
  const list = await files;
  const { start, end } = list.pageBounds(after, page.limit);
  const { member, online } = await memberAndOnlinePeers(db, actor, list.internalId, list.holdersOf(start, end), tracker.clock());
  if (!member) await requireMember(db, actor, groupName);
  return list.answerFor(start, end, online);
}

/** Whether the caller is a member of the group (by internal id), and which of `userIds` have a session seen within the online window, in one query. */
async function memberAndOnlinePeers(db: TrackerDb, actor: Actor, groupId: string, userIds: string[], now: number) {
  const sessionOf = userIds.length === 0 ? Prisma.sql`1 = 0` : Prisma.sql`s."userId" IN (${Prisma.join(userIds)})`;
  // No row: not a member. One row per online session of a holder, or one row of NULLs for none.
  const rows = await db.$queryRaw<{ userId: string | null; peerAddress: string | null }[]>`
    SELECT s."userId", s."peerAddress" FROM "Membership" m
    LEFT JOIN "Session" s ON ${sessionOf} AND s."lastSeenAt" > ${new Date(now - TRACKER.ONLINE_WINDOW_MS)} AND s."expiresAt" > ${new Date(now)}
    WHERE m."groupId" = ${groupId} AND m."userId" = ${actor.userId}
    ORDER BY s."lastSeenAt" ASC`;
  // The most recently seen session wins when a user is logged in twice.
  const online = new Map<string, string>();
  for (const row of rows) if (row.userId !== null) online.set(row.userId, row.peerAddress!);
  return { member: rows.length > 0, online };
}

/** The caller stops sharing one file in one group; a file nobody holds any more leaves the group. */
export async function stopSharing(tracker: ServiceContext, actor: Actor, groupName: string, fileName: string): Promise<void> {
  await tracker.outbox.write(async (tx, record) => {
    const groupId = await requireMember(tx, actor, groupName);
    const held = await tx.holding.findUnique({ where: { groupId_fileName_userId: { groupId, fileName, userId: actor.userId } }, select: { userId: true } });
    if (!held) throw new NotFoundError(`you do not share "${fileName}" in "${groupName}"`, Codes.NOT_SHARING);
    // The projection removes the holding, and the file once nobody holds it.
    await record({ type: "holding.removed", payload: { groupId, fileName, userId: actor.userId } });
  });
}

export async function peersOf(
  tracker: ServiceContext,
  actor: Actor,
  groupName: string,
  fileName: string,
): Promise<{ file: FileMetadata; peers: PeerView[] }> {
  const { db } = tracker;
  const now = tracker.clock();
  // Asked at every download's start and every peer refresh: two statements instead of a transaction of five
  // (each costs 0.3-0.7 ms of Prisma's client here; the peer list is the first step of a download's fixed cost).
  const [row] = await db.$queryRaw<{
    groupId: string; member: unknown; size: bigint | number | null; sha1: string | null; pieceSize: bigint | number | null; pieceHashes: string | null;
    fileCount: bigint | number | null;
  }[]>`
    SELECT g."id" AS "groupId", EXISTS (SELECT 1 FROM "Membership" m WHERE m."groupId" = g."id" AND m."userId" = ${actor.userId}) AS "member",
      f."size", f."sha1", f."pieceSize", f."pieceHashes", f."fileCount"
    FROM "Group" g LEFT JOIN "SharedFile" f ON f."groupId" = g."id" AND f."fileName" = ${fileName}
    WHERE g."name" = ${groupName}`;
  if (!row || !Boolean(Number(row.member))) await requireMember(db, actor, groupName);
  if (row!.sha1 === null) throw new NotFoundError(`"${fileName}" is not shared in "${groupName}"; list_files shows what is`, Codes.FILE_NOT_FOUND);
  const pieceHashes = JSON.parse(row!.pieceHashes!) as string[];
  // Holders other than the caller with a session seen within the online window; the most recently seen session wins.
  const sessions = await db.$queryRaw<{ userId: string; name: string; piecesHeld: bigint | number; peerAddress: string; peerCertSha256: string | null }[]>`
    SELECT h."userId", u."name", h."piecesHeld", s."peerAddress", s."peerCertSha256"
    FROM "Holding" h
    JOIN "User" u ON u."id" = h."userId"
    JOIN "Session" s ON s."userId" = h."userId" AND s."lastSeenAt" > ${new Date(now - TRACKER.ONLINE_WINDOW_MS)} AND s."expiresAt" > ${new Date(now)}
    WHERE h."groupId" = ${row!.groupId} AND h."fileName" = ${fileName} AND h."userId" <> ${actor.userId}
    ORDER BY s."lastSeenAt" ASC`;
  const online = new Map(sessions.map((s) => [s.userId, s]));
  return {
    file: {
      groupId: groupName, fileName, size: Number(row!.size), sha1: row!.sha1, pieceSize: Number(row!.pieceSize), pieceHashes,
      ...(row!.fileCount !== null ? { fileCount: Number(row!.fileCount) } : {}),
    },
    peers: [...online.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((h) => ({
        userId: h.name, address: h.peerAddress, ...(h.peerCertSha256 ? { certSha256: h.peerCertSha256 } : {}),
        piecesHeld: Number(h.piecesHeld), complete: Number(h.piecesHeld) === pieceHashes.length,
      })),
  };
}

/** A shared folder's manifest (members only): its files in stream order. A plain file has none (NOT_A_FOLDER). */
export async function folderManifest(tracker: ServiceContext, actor: Actor, groupName: string, fileName: string): Promise<FolderManifest> {
  const { db } = tracker;
  const [row] = await db.$queryRaw<{ groupId: string; member: unknown; sha1: string | null; manifest: string | null }[]>`
    SELECT g."id" AS "groupId", EXISTS (SELECT 1 FROM "Membership" m WHERE m."groupId" = g."id" AND m."userId" = ${actor.userId}) AS "member",
      f."sha1", f."manifest"
    FROM "Group" g LEFT JOIN "SharedFile" f ON f."groupId" = g."id" AND f."fileName" = ${fileName}
    WHERE g."name" = ${groupName}`;
  if (!row || !Boolean(Number(row.member))) await requireMember(db, actor, groupName);
  if (row!.sha1 === null) throw new NotFoundError(`"${fileName}" is not shared in "${groupName}"; list_files shows what is`, Codes.FILE_NOT_FOUND);
  if (row!.manifest === null) throw new NotFoundError(`"${fileName}" in "${groupName}" is a file, not a folder; it has no manifest`, Codes.NOT_A_FOLDER);
  return { groupId: groupName, fileName, sha1: row!.sha1, files: JSON.parse(row!.manifest) as ManifestEntry[] };
}

/**
 * Heartbeat: marks the caller's session as seen and records how much of each
 * file it holds. Reports for files the caller may not hold are returned as rejected.
 * Agents send every holding on every heartbeat and progress report, so this
 * runs few queries however many there are: the caller's memberships, and the
 * files reported with the caller's holdings of them, each for a chunk of the
 * reports (one statement for all of 20,000 holdings bound 25,001 values,
 * past any database's limit; test/bound-values.test.ts).
 */
export async function announce(tracker: ServiceContext, actor: Actor, input: AnnounceRequest): Promise<AnnounceResult> {
  const now = new Date(tracker.clock());
  const rejected: AnnounceResult["rejected"] = [];
  await tracker.outbox.write(async (tx, record) => {
    const [session] = await tx.$queryRaw<{ tokenHash: string; peerAddress: string; peerCertSha256: string | null }[]>`
      UPDATE "Session" SET "lastSeenAt" = ${now}, "peerAddress" = COALESCE(${input.peerAddress ?? null}, "peerAddress"),
        "peerCertSha256" = COALESCE(${input.peerCertSha256 ?? null}, "peerCertSha256")
      WHERE "tokenHash" = ${actor.tokenHash} RETURNING "tokenHash", "peerAddress", "peerCertSha256"`;
    if (!session) throw new UnauthorizedError("session expired or logged out; log in again", Codes.SESSION_INVALID);
    const events: NewEvent[] = [];
    // A new certificate is shared at once like a new address: downloaders elsewhere refuse the agent until they see it.
    if (tracker.heartbeats.worthSharing(session.tokenHash, `${session.peerAddress} ${session.peerCertSha256 ?? ""}`, now.getTime())) {
      events.push({ type: "session.seen", payload: { tokenHash: session.tokenHash, lastSeenAt: now.toISOString(), peerAddress: session.peerAddress, peerCertSha256: session.peerCertSha256 } });
    }
    if (input.holdings.length > 0) {
      // Agents report groups by name: the caller's groups among them, name -> internal id.
      const memberOf = new Map<string, string>();
      await inChunks([...new Set(input.holdings.map((h) => h.groupId))], async (names) => {
        for (const g of await tx.$queryRaw<{ id: string; name: string }[]>`
          SELECT g."id", g."name" FROM "Group" g JOIN "Membership" m ON m."groupId" = g."id" AND m."userId" = ${actor.userId}
          WHERE g."name" IN (${Prisma.join(names)})`) memberOf.set(g.name, g.id);
        return [];
      });
      // Reports half a chunk at a time: a statement binds their groups and their names, and the caller.
      const files = new Map<string, { groupId: string; fileName: string; sha1: string; size: bigint | number; pieceSize: number; piecesHeld: number | null }>();
      await inChunks(input.holdings.filter((h) => memberOf.has(h.groupId)), async (reports) => {
        const groupIds = Prisma.join([...new Set(reports.map((h) => memberOf.get(h.groupId)!))]);
        const fileNames = Prisma.join([...new Set(reports.map((h) => h.fileName))]);
        // Every pair of the groups and names reported (a superset of the reports), with the caller's holding if any.
        for (const f of await tx.$queryRaw<{ groupId: string; fileName: string; sha1: string; size: bigint | number; pieceSize: number; piecesHeld: number | null }[]>`
          SELECT f."groupId", f."fileName", f."sha1", f."size", f."pieceSize", h."piecesHeld"
          FROM "SharedFile" f
          LEFT JOIN "Holding" h ON h."groupId" = f."groupId" AND h."fileName" = f."fileName" AND h."userId" = ${actor.userId}
          WHERE f."groupId" IN (${groupIds}) AND f."fileName" IN (${fileNames})`) files.set(holdingKey(f), f);
        return [];
      }, Math.floor(TRACKER.IDS_PER_STATEMENT / 2));
      for (const report of input.holdings) {
        const { fileName, piecesHeld } = report;
        const groupId = memberOf.get(report.groupId) ?? "";
        const file = files.get(holdingKey({ groupId, fileName }));
        const reason = !memberOf.has(report.groupId) ? Codes.NOT_MEMBER : !file ? Codes.FILE_NOT_FOUND : file.sha1 !== report.sha1 ? Codes.SHA1_MISMATCH
          : piecesHeld > pieceCount(Number(file.size), file.pieceSize) ? Codes.TOO_MANY_PIECES : undefined;
        if (reason || !file) {
          rejected.push({ groupId: report.groupId, fileName, code: reason ?? Codes.FILE_NOT_FOUND });
          continue;
        }
        if (file.piecesHeld === piecesHeld) continue;
        file.piecesHeld = piecesHeld;
        events.push({
          type: "holding.upserted",
          payload: { groupId, fileName, userId: actor.userId, sha1: report.sha1, piecesHeld, updatedAt: now.toISOString() },
        });
      }
    }
    if (events.length > 0) await record(...events);
  });
  return { intervalSeconds: TRACKER.HEARTBEAT_SECONDS, rejected };
}

const holdingKey = (h: { groupId: string; fileName: string }) => `${h.groupId}\u0000${h.fileName}`;
