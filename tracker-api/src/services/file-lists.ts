import type { FilePage, FileView } from "../../../core/api-types.js";
import { pieceCount } from "../../../core/pieces.js";
import type { TrackerDb } from "../db/open.js";
import { cursorAfter } from "../domain/paging.js";
import { TRACKER } from "../config.js";
import { SerializedJson } from "../serialized-json.js";

/** `sharedBy`: the holders' names, as listed; `holders`: their internal ids, in the same order. */
type ListedFile = { fileName: string; size: number; sha1: string; pieceCount: number; fileCount?: number; sharedBy: string[]; holders: string[] };

/** A page of the file list as last answered: its holders, and its body for the holders then online. */
interface CachedPage {
  holders: string[];
  answer?: { online: string; json: SerializedJson<FilePage> };
}

/**
 * A group's file list as of one version of its files: everything in it but who
 * is online, which changes with time and is asked for on each listing. Pages
 * are slices of it; each page's body is serialized again only when who is
 * online among that page's holders changes.
 */
export class GroupFiles {
  /** Least recently asked for first. */
  readonly #pages = new Map<string, CachedPage>();
  /** Bytes of the serialized bodies kept in #pages. */
  #bodyBytes = 0;

  constructor(
    /** The group's name, as listed. */
    readonly groupId: string,
    /** The group's internal id. */
    readonly internalId: string,
    readonly version: number,
    /** Sorted by file name (JavaScript string order, the order cursors compare in), each with its holders sorted. */
    readonly files: readonly ListedFile[],
  ) {}

  /** The files of the page that starts after the file named `after` (from the first without it): indexes [start, end), end exclusive. */
  pageBounds(after: string | undefined, limit: number): { start: number; end: number } {
    let start = 0;
    if (after !== undefined) {
      // First file whose name sorts after `after` (binary search).
      let high = this.files.length;
      while (start < high) {
        const middle = (start + high) >>> 1;
        if (this.files[middle]!.fileName <= after) start = middle + 1;
        else high = middle;
      }
    }
    return { start, end: Math.min(start + limit, this.files.length) };
  }

  /** Everyone who holds a file of the page, sorted: whose online state the page shows. */
  holdersOf(start: number, end: number): string[] {
    return this.#page(start, end).holders;
  }

  /** The page's serialized body for this set of online users. */
  answerFor(start: number, end: number, online: ReadonlyMap<string, unknown>): SerializedJson<FilePage> {
    const page = this.#page(start, end);
    const onlineHolders = page.holders.filter((userId) => online.has(userId)).join("/");
    if (page.answer?.online !== onlineHolders) {
      const items: FileView[] = this.files.slice(start, end).map(({ sharedBy, holders, ...file }) => ({
        groupId: this.groupId, ...file, peersOnline: holders.filter((userId) => online.has(userId)).length, sharedBy,
      }));
      const last = items.at(-1);
      const nextCursor = end < this.files.length && last ? cursorAfter("files", this.groupId, [last.fileName]) : null;
      this.#bodyBytes -= page.answer?.json.body.length ?? 0;
      page.answer = { online: onlineHolders, json: new SerializedJson<FilePage>({ items, nextCursor }) };
      this.#bodyBytes += page.answer.json.body.length;
      for (const key of this.#pages.keys()) {
        if (this.#bodyBytes <= TRACKER.MAX_CACHED_PAGE_BYTES) break;
        if (this.#pages.get(key) !== page) this.#forget(key);
      }
    }
    return page.answer.json;
  }

  #page(start: number, end: number): CachedPage {
    const key = `${start}-${end}`;
    let page = this.#pages.get(key);
    if (page === undefined) {
      page = { holders: [...new Set(this.files.slice(start, end).flatMap((file) => file.holders))].sort() };
      if (this.#pages.size >= TRACKER.MAX_CACHED_PAGES) this.#forget(this.#pages.keys().next().value!);
    } else {
      this.#pages.delete(key);
    }
    this.#pages.set(key, page);
    return page;
  }

  #forget(key: string): void {
    this.#bodyBytes -= this.#pages.get(key)?.answer?.json.body.length ?? 0;
    this.#pages.delete(key);
  }
}



/**
 * One tracker's file lists: per group (by internal id), a version bumped by
 * every committed change to its files or their holders (filesChanged), and
 * its file list (by the name it is asked for) loaded at some version. Listing
 * a group of 10,000 files then needs no query for the files: they are loaded
 * again only after a change, or after names changed (forgetAll). Only valid
 * while every change goes through the tracker's services or its replicator,
 * which is the rule for a tracker's database.
 */
export class FileListCache {
  readonly #versions = new Map<string, number>();
  readonly #loaded = new Map<string, { groupId: string; version: number; files: Promise<GroupFiles> }>();

  constructor(private readonly db: TrackerDb) {}

  /** To be called after every committed change to a group's shared files or their holders (by the group's internal id). */
  filesChanged(groupId: string): void {
    this.#versions.set(groupId, (this.#versions.get(groupId) ?? 0) + 1);
    for (const [name, entry] of this.#loaded) if (entry.groupId === groupId) this.#loaded.delete(name);
  }

  /** Forgets every loaded list: users or groups were renamed (lists show names). */
  forgetAll(): void {
    this.#loaded.clear();
  }

  /** The file list of the group now called `name` if it is loaded (or loading) at its current version; never queries. */
  loaded(name: string): Promise<GroupFiles> | undefined {
    const entry = this.#loaded.get(name);
    if (entry === undefined || entry.version !== (this.#versions.get(entry.groupId) ?? 0)) return undefined;
    this.#loaded.delete(name);
    this.#loaded.set(name, entry);
    return entry.files;
  }

  /** The file list of group `groupId` (internal), now called `name`, at its current version (or later); concurrent callers share one load. */
  list(name: string, groupId: string): Promise<GroupFiles> {
    const ready = this.loaded(name);
    if (ready) return ready;
    const version = this.#versions.get(groupId) ?? 0;
    const entry = { groupId, version, files: this.#load(name, groupId, version) };
    this.#loaded.set(name, entry);
    if (this.#loaded.size > TRACKER.MAX_CACHED_GROUPS) this.#loaded.delete(this.#loaded.keys().next().value!);
    // A failed load is not kept: the next listing tries again.
    entry.files.catch(() => {
      if (this.#loaded.get(name) === entry) this.#loaded.delete(name);
    });
    return entry.files;
  }

  async #load(name: string, groupId: string, version: number): Promise<GroupFiles> {
    const { files, nameNow } = await loadFileList(this.db, name, groupId, version);
    // Renamed between the lookup and this snapshot: not kept under the old name.
    if (nameNow !== name) this.forgetAll();
    return files;
  }
}

async function loadFileList(db: TrackerDb, name: string, groupId: string, version: number): Promise<{ files: GroupFiles; nameNow: string | undefined }> {
  // One snapshot of the three tables; piece hashes stay in the database.
  const [files, holdings, group] = await db.$transaction([
    db.sharedFile.findMany({ where: { groupId }, orderBy: { fileName: "asc" }, select: { fileName: true, size: true, sha1: true, pieceSize: true, fileCount: true } }),
    db.$queryRaw<{ fileName: string; userId: string; name: string }[]>`
      SELECT h."fileName", h."userId", u."name" FROM "Holding" h JOIN "User" u ON u."id" = h."userId" WHERE h."groupId" = ${groupId}`,
    db.group.findUnique({ where: { id: groupId }, select: { name: true } }),
  ]);
  holdings.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const holdersByFile = new Map<string, { sharedBy: string[]; holders: string[] }>();
  for (const { fileName, userId, name: holder } of holdings) {
    let entry = holdersByFile.get(fileName);
    if (!entry) holdersByFile.set(fileName, (entry = { sharedBy: [], holders: [] }));
    entry.sharedBy.push(holder);
    entry.holders.push(userId);
  }
  const listed = files.map((file) => ({
    fileName: file.fileName,
    size: Number(file.size),
    sha1: file.sha1,
    pieceCount: pieceCount(Number(file.size), file.pieceSize),
    ...(file.fileCount !== null ? { fileCount: file.fileCount } : {}),
    sharedBy: holdersByFile.get(file.fileName)?.sharedBy ?? [],
    holders: holdersByFile.get(file.fileName)?.holders ?? [],
  }));
  // The database's order depends on its collation; cursors compare names as JavaScript strings.
  // Already sorted (SQLite, ASCII names) costs one pass.
  listed.sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
  return { files: new GroupFiles(name, groupId, version, listed), nameNow: group?.name };
}
