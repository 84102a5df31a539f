import type { AnnounceRequest, AnnounceResult, FileMetadata, FileView, PeerView, ShareFileRequest } from "../../../core/api-types.js";
import { ConflictError, NotFoundError } from "../../../core/errors.js";
import type { TrackerDb } from "../db/open.js";
import { checkShareMetadata, HEARTBEAT_SECONDS, ONLINE_WINDOW_MS, shareOutcome } from "../domain/share-rules.js";
import { requireMember } from "./groups.js";
import type { Actor } from "./sessions.js";

type Tx = Parameters<Parameters<TrackerDb["$transaction"]>[0]>[0];

/** Users with a session seen within the online window, with that session's peer address. */
export async function onlinePeers(tx: Tx, userIds: string[], now = Date.now()): Promise<Map<string, string>> {
  const sessions = await tx.session.findMany({
    where: { userId: { in: userIds }, lastSeenAt: { gt: new Date(now - ONLINE_WINDOW_MS) }, expiresAt: { gt: new Date(now) } },
    orderBy: { lastSeenAt: "asc" },
  });
  // The most recently seen session wins when a user is logged in twice.
  return new Map(sessions.map((s) => [s.userId, s.peerAddress]));
}

async function toView(tx: Tx, file: { groupId: string; fileName: string; size: bigint; sha1: string; pieceHashes: string }): Promise<FileView> {
  const holders = await tx.holding.findMany({ where: { groupId: file.groupId, fileName: file.fileName }, orderBy: { userId: "asc" } });
  const online = await onlinePeers(tx, holders.map((h) => h.userId));
  return {
    groupId: file.groupId,
    fileName: file.fileName,
    size: Number(file.size),
    sha1: file.sha1,
    pieceCount: countPieces(file.pieceHashes),
    peersOnline: holders.filter((h) => online.has(h.userId)).length,
    sharedBy: holders.map((h) => h.userId),
  };
}

export async function shareFile(
  db: TrackerDb,
  actor: Actor,
  groupId: string,
  input: ShareFileRequest,
): Promise<{ created: boolean; file: FileView }> {
  checkShareMetadata(input);
  const now = new Date();
  return db.$transaction(async (tx) => {
    await requireMember(tx, actor, groupId);
    const key = { groupId_fileName: { groupId, fileName: input.fileName } };
    const existing = await tx.sharedFile.findUnique({ where: key });
    const outcome = shareOutcome(existing?.sha1, input.sha1);
    if (outcome === "name-taken") {
      throw new ConflictError(
        `"${input.fileName}" is already shared in "${groupId}" with different content; rename your file`,
        "FILE_NAME_TAKEN",
      );
    }
    const file = existing ?? (await tx.sharedFile.create({
      data: {
        groupId, fileName: input.fileName, size: BigInt(input.size), sha1: input.sha1,
        pieceSize: input.pieceSize, pieceHashes: JSON.stringify(input.pieceHashes), sharedAt: now,
      },
    }));
    const piecesHeld = input.pieceHashes.length;
    await tx.holding.upsert({
      where: { groupId_fileName_userId: { groupId, fileName: input.fileName, userId: actor.userId } },
      create: { groupId, fileName: input.fileName, userId: actor.userId, piecesHeld, updatedAt: now },
      update: { piecesHeld, updatedAt: now },
    });
    return { created: outcome === "new-file", file: await toView(tx, file) };
  });
}

export async function listFiles(db: TrackerDb, actor: Actor, groupId: string): Promise<FileView[]> {
  return db.$transaction(async (tx) => {
    await requireMember(tx, actor, groupId);
    // Three queries whatever the number of files: files, holders, online sessions.
    const [files, holdings] = await Promise.all([
      tx.sharedFile.findMany({ where: { groupId }, orderBy: { fileName: "asc" } }),
      tx.holding.findMany({ where: { groupId }, orderBy: { userId: "asc" } }),
    ]);
    const online = await onlinePeers(tx, [...new Set(holdings.map((h) => h.userId))]);
    const holdersByFile = new Map<string, string[]>();
    for (const h of holdings) holdersByFile.set(h.fileName, [...(holdersByFile.get(h.fileName) ?? []), h.userId]);
    return files.map((file) => {
      const sharedBy = holdersByFile.get(file.fileName) ?? [];
      return {
        groupId, fileName: file.fileName, size: Number(file.size), sha1: file.sha1,
        pieceCount: countPieces(file.pieceHashes), peersOnline: sharedBy.filter((u) => online.has(u)).length, sharedBy,
      };
    });
  });
}

/** Piece hashes are stored as a JSON array of 40-character strings. */
function countPieces(pieceHashesJson: string): number {
  return pieceHashesJson === "[]" ? 0 : (pieceHashesJson.length - 1) / 43;
}

/** The caller stops sharing one file in one group; a file nobody holds any more leaves the group. */
export async function stopSharing(db: TrackerDb, actor: Actor, groupId: string, fileName: string): Promise<void> {
  await db.$transaction(async (tx) => {
    await requireMember(tx, actor, groupId);
    const removed = await tx.holding.deleteMany({ where: { groupId, fileName, userId: actor.userId } });
    if (removed.count === 0) {
      throw new NotFoundError(`you do not share "${fileName}" in "${groupId}"`, "NOT_SHARING");
    }
    if ((await tx.holding.count({ where: { groupId, fileName } })) === 0) {
      await tx.sharedFile.delete({ where: { groupId_fileName: { groupId, fileName } } });
    }
  });
}

export async function peersOf(
  db: TrackerDb,
  actor: Actor,
  groupId: string,
  fileName: string,
): Promise<{ file: FileMetadata; peers: PeerView[] }> {
  return db.$transaction(async (tx) => {
    await requireMember(tx, actor, groupId);
    const file = await tx.sharedFile.findUnique({ where: { groupId_fileName: { groupId, fileName } } });
    if (!file) throw new NotFoundError(`"${fileName}" is not shared in "${groupId}"; list_files shows what is`, "FILE_NOT_FOUND");
    const pieceHashes = JSON.parse(file.pieceHashes) as string[];
    const holders = await tx.holding.findMany({ where: { groupId, fileName, userId: { not: actor.userId } }, orderBy: { userId: "asc" } });
    const online = await onlinePeers(tx, holders.map((h) => h.userId));
    return {
      file: { groupId, fileName, size: Number(file.size), sha1: file.sha1, pieceSize: file.pieceSize, pieceHashes },
      peers: holders
        .filter((h) => online.has(h.userId))
        .map((h) => ({ userId: h.userId, address: online.get(h.userId)!, piecesHeld: h.piecesHeld, complete: h.piecesHeld === pieceHashes.length })),
    };
  });
}

/**
 * Heartbeat: marks the caller's session as seen and records how much of each
 * file it holds. Reports for files the caller may not hold are returned as rejected.
 */
export async function announce(db: TrackerDb, actor: Actor, input: AnnounceRequest): Promise<AnnounceResult> {
  const now = new Date();
  const rejected: AnnounceResult["rejected"] = [];
  await db.$transaction(async (tx) => {
    await tx.session.update({
      where: { tokenHash: actor.tokenHash },
      data: { lastSeenAt: now, ...(input.peerAddress ? { peerAddress: input.peerAddress } : {}) },
    });
    for (const report of input.holdings) {
      const member = await tx.membership.findUnique({ where: { groupId_userId: { groupId: report.groupId, userId: actor.userId } } });
      const file = await tx.sharedFile.findUnique({ where: { groupId_fileName: { groupId: report.groupId, fileName: report.fileName } } });
      const reason = !member ? "NOT_MEMBER" : !file ? "FILE_NOT_FOUND" : file.sha1 !== report.sha1 ? "SHA1_MISMATCH"
        : report.piecesHeld > (JSON.parse(file.pieceHashes) as string[]).length ? "TOO_MANY_PIECES" : undefined;
      if (reason) {
        rejected.push({ groupId: report.groupId, fileName: report.fileName, code: reason });
        continue;
      }
      await tx.holding.upsert({
        where: { groupId_fileName_userId: { groupId: report.groupId, fileName: report.fileName, userId: actor.userId } },
        create: { groupId: report.groupId, fileName: report.fileName, userId: actor.userId, piecesHeld: report.piecesHeld, updatedAt: now },
        update: { piecesHeld: report.piecesHeld, updatedAt: now },
      });
    }
  });
  return { intervalSeconds: HEARTBEAT_SECONDS, rejected };
}
