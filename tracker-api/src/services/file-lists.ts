import type { FilePage, FileView } from "../../../core/api-types.js";
import { pieceCount } from "../../../core/pieces.js";
import type { TrackerDb } from "../db/open.js";
import { cursorAfter } from "../domain/paging.js";
import { SerializedJson } from "../serialized-json.js";
import { perTracker } from "./memory.js";

type ListedFile = { fileName: string; size: number; sha1: string; pieceCount: number; sharedBy: string[] };

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
    readonly groupId: string,
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
      const items: FileView[] = this.files.slice(start, end).map(({ sharedBy, ...file }) => ({
        groupId: this.groupId, ...file, peersOnline: sharedBy.filter((userId) => online.has(userId)).length, sharedBy,
      }));
      const last = items.at(-1);
      const nextCursor = end < this.files.length && last ? cursorAfter("files", this.groupId, [last.fileName]) : null;
      this.#bodyBytes -= page.answer?.json.body.length ?? 0;
      page.answer = { online: onlineHolders, json: new SerializedJson<FilePage>({ items, nextCursor }) };
      this.#bodyBytes += page.answer.json.body.length;
      for (const key of this.#pages.keys()) {
        if (this.#bodyBytes <= MAX_CACHED_PAGE_BYTES) break;
        if (this.#pages.get(key) !== page) this.#forget(key);
      }
    }
    return page.answer.json;
  }

  #page(start: number, end: number): CachedPage {
    const key = `${start}-${end}`;
    let page = this.#pages.get(key);
    if (page === undefined) {
      page = { holders: [...new Set(this.files.slice(start, end).flatMap((file) => file.sharedBy))].sort() };
      if (this.#pages.size >= MAX_CACHED_PAGES) this.#forget(this.#pages.keys().next().value!);
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
 * Pages kept per group list (a page is identified by where it starts and ends),
 * and the bytes of their bodies: more than a whole 10,000-file list (1.5 MB),
 * so every page of a walk stays, but bounded whatever limits and cursors are
 * asked for. The least recently asked for make room.
 */
const MAX_CACHED_PAGES = 64;
const MAX_CACHED_PAGE_BYTES = 2 * 1024 * 1024;

/**
 * Per group, a version bumped by every committed change to its files or their
 * holders (filesChanged), and its file list loaded at some version. Listing a
 * group of 10,000 files then needs no query for the files: they are loaded
 * again only after a change.
 */
const fileLists = perTracker(() => ({
  versions: new Map<string, number>(),
  loaded: new Map<string, { version: number; files: Promise<GroupFiles> }>(),
}));
/** Groups whose file list is kept; the least recently listed makes room. */
const MAX_CACHED_GROUPS = 32;

/** To be called after every committed change to a group's shared files or their holders. */
export function filesChanged(db: TrackerDb, groupId: string): void {
  const { versions, loaded } = fileLists(db);
  versions.set(groupId, (versions.get(groupId) ?? 0) + 1);
  loaded.delete(groupId);
}

/** The group's file list if it is loaded (or loading) at its current version; never queries. */
export function loadedFileList(db: TrackerDb, groupId: string): Promise<GroupFiles> | undefined {
  const { versions, loaded } = fileLists(db);
  const entry = loaded.get(groupId);
  if (entry === undefined || entry.version !== (versions.get(groupId) ?? 0)) return undefined;
  loaded.delete(groupId);
  loaded.set(groupId, entry);
  return entry.files;
}

/** The group's file list at its current version (or later); concurrent callers share one load. */
export function cachedFileList(db: TrackerDb, groupId: string): Promise<GroupFiles> {
  const ready = loadedFileList(db, groupId);
  if (ready) return ready;
  const { versions, loaded } = fileLists(db);
  const version = versions.get(groupId) ?? 0;
  const entry = { version, files: loadFileList(db, groupId, version) };
  loaded.set(groupId, entry);
  if (loaded.size > MAX_CACHED_GROUPS) loaded.delete(loaded.keys().next().value!);
  // A failed load is not kept: the next listing tries again.
  entry.files.catch(() => {
    if (loaded.get(groupId) === entry) loaded.delete(groupId);
  });
  return entry.files;
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
  const listed = files.map((file) => ({
    fileName: file.fileName,
    size: Number(file.size),
    sha1: file.sha1,
    pieceCount: pieceCount(Number(file.size), file.pieceSize),
    sharedBy: holdersByFile.get(file.fileName) ?? [],
  }));
  // The database's order depends on its collation; cursors compare names as JavaScript strings.
  // Already sorted (SQLite, ASCII names) costs one pass.
  listed.sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
  return new GroupFiles(groupId, version, listed);
}
