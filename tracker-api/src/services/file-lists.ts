import type { FileView } from "../../../core/api-types.js";
import { pieceCount } from "../../../core/pieces.js";
import type { TrackerDb } from "../db/open.js";
import { SerializedJson } from "../serialized-json.js";
import { perTracker } from "./memory.js";

/**
 * A group's file list as of one version of its files: everything in it but who
 * is online, which changes with time and is asked for on each listing.
 */
export class GroupFiles {
  /** Everyone who holds any of the files, sorted. */
  readonly holders: string[];
  #answer: { online: string; json: SerializedJson<FileView[]> } | undefined;

  constructor(
    readonly groupId: string,
    readonly version: number,
    /** In name order, each with its holders sorted. */
    readonly files: readonly { fileName: string; size: number; sha1: string; pieceCount: number; sharedBy: string[] }[],
  ) {
    this.holders = [...new Set(files.flatMap((file) => file.sharedBy))].sort();
  }

  /** The serialized list for this set of online users; serialized again only when the online holders differ from last time. */
  answerFor(online: ReadonlyMap<string, unknown>): SerializedJson<FileView[]> {
    const onlineHolders = this.holders.filter((userId) => online.has(userId)).join("/");
    if (this.#answer?.online !== onlineHolders) {
      const views: FileView[] = this.files.map(({ sharedBy, ...file }) => ({
        groupId: this.groupId, ...file, peersOnline: sharedBy.filter((userId) => online.has(userId)).length, sharedBy,
      }));
      this.#answer = { online: onlineHolders, json: new SerializedJson(views) };
    }
    return this.#answer.json;
  }
}

/**
 * Per group, a version bumped by every committed change to its files or their
 * holders (filesChanged), and its file list loaded at some version. Listing a
 * group of 10,000 files then needs no query for the files: they are loaded
 * again only after a change.
 */
const fileLists = perTracker(() => ({ versions: new Map<string, number>(), loaded: new Map<string, Promise<GroupFiles>>() }));
/** Groups whose file list is kept; the least recently listed makes room. */
const MAX_CACHED_GROUPS = 32;

/** To be called after every committed change to a group's shared files or their holders. */
export function filesChanged(db: TrackerDb, groupId: string): void {
  const { versions, loaded } = fileLists(db);
  versions.set(groupId, (versions.get(groupId) ?? 0) + 1);
  loaded.delete(groupId);
}

/** The group's file list at its current version (or later); concurrent callers share one load. */
export async function cachedFileList(db: TrackerDb, groupId: string): Promise<GroupFiles> {
  const { versions, loaded } = fileLists(db);
  const version = versions.get(groupId) ?? 0;
  let pending = loaded.get(groupId);
  if (pending === undefined || (await pending.catch(() => undefined))?.version !== version) {
    pending = loadFileList(db, groupId, version);
  }
  loaded.delete(groupId);
  loaded.set(groupId, pending);
  if (loaded.size > MAX_CACHED_GROUPS) loaded.delete(loaded.keys().next().value!);
  return pending;
}

async function loadFileList(db: TrackerDb, groupId: string, version: number): Promise<GroupFiles> {
  // One snapshot of both tables; piece hashes stay in the database.
  const [files, holdings] = await db.$transaction([
    db.sharedFile.findMany({ where: { groupId }, orderBy: { fileName: "asc" }, select: { fileName: true, size: true, sha1: true, pieceSize: true } }),
    db.holding.findMany({ where: { groupId }, orderBy: { userId: "asc" }, select: { fileName: true, userId: true } }),
  ]);
  const holdersByFile = new Map<string, string[]>();
  for (const { fileName, userId } of holdings) {
    const holders = holdersByFile.get(fileName);
    if (holders) holders.push(userId);
    else holdersByFile.set(fileName, [userId]);
  }
  return new GroupFiles(groupId, version, files.map((file) => ({
    fileName: file.fileName,
    size: Number(file.size),
    sha1: file.sha1,
    pieceCount: pieceCount(Number(file.size), file.pieceSize),
    sharedBy: holdersByFile.get(file.fileName) ?? [],
  })));
}
