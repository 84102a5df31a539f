import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ManifestEntry } from "../../../core/api-types.js";
import { Codes, ConflictError, ValidationError } from "../../../core/errors.js";
import { AGENT } from "../config.js";

/**
 * Where a folder download keeps its work, all inside `<destination>.part/` (one
 * name that fits wherever `<name>.part` does): the stream being downloaded,
 * the stream once every piece and its whole SHA1 checked, and the tree being
 * laid out from it, renamed to the destination when it is whole.
 */
export function folderWorkPaths(destination: string): { dir: string; stream: string; complete: string; tree: string } {
  const dir = `${destination}.part`;
  return { dir, stream: join(dir, "stream"), complete: join(dir, "complete"), tree: join(dir, "tree") };
}

/** Refuses a folder whose deepest path would not fit the system's path limit under `destination` (while being laid out, inside its work folder). */
export function checkPathsFit(destination: string, entries: readonly ManifestEntry[]): void {
  const base = Buffer.byteLength(folderWorkPaths(destination).tree, "utf8") + 1;
  for (const entry of entries) {
    if (base + Buffer.byteLength(entry.path, "utf8") > AGENT.MAX_PATH_BYTES) {
      throw new ValidationError(`${entry.path} would be too long a path under ${destination}; choose a shorter destination`, Codes.BAD_MANIFEST);
    }
  }
}

/**
 * Lays a downloaded folder's stream (`complete`, already checked) out as its
 * files under `destination`: built in the work folder's `tree` (made afresh,
 * so a layout cut short by a crash starts over), every file created new
 * (O_EXCL: nothing there is followed or overwritten), then renamed into
 * place in one step, so the destination is either absent or whole. The
 * manifest was checked (core/manifest.ts) before the download began.
 *
 * The files are written with synchronous calls, a turn's worth at a time
 * (AGENT.FOLDER_LAYOUT_TURN_*), then the event loop runs: one call through
 * libuv's pool per open, read, write and close made 10,000 small files take
 * 12 s on a loaded machine (bench:folders), while a turn of 256 of them holds
 * the event loop for milliseconds. Returns the folder's fingerprint as
 * folderFingerprint reads it (each file's times taken from its descriptor as
 * it is closed, not by a second pass over its paths).
 */
export async function layOutFolder(destination: string, entries: readonly ManifestEntry[]): Promise<{ size: number; mtimeMs: number }> {
  const { complete, tree } = folderWorkPaths(destination);
  await rm(tree, { recursive: true, force: true });
  await mkdir(tree);
  const directories = new Set<string>();
  for (const entry of entries) {
    for (let dir = dirname(entry.path); dir !== "."; dir = dirname(dir)) directories.add(dir);
  }
  // Shortest first: a parent is made before its children, each exactly once.
  for (const dir of [...directories].sort((a, b) => a.length - b.length)) await mkdir(join(tree, ...dir.split("/")));
  const stream = new StreamReader(openSync(complete, "r"));
  let mtimeMs = 0;
  let size = 0;
  try {
    let files = 0;
    let bytes = 0;
    for (const entry of entries) {
      const fd = openSync(join(tree, ...entry.path.split("/")), "wx");
      try {
        for (let left = entry.size; left > 0; ) {
          const chunk = stream.next(left);
          for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done, chunk.length - done);
          left -= chunk.length;
        }
        mtimeMs = Math.max(mtimeMs, fstatSync(fd).mtimeMs);
        size += entry.size;
      } finally {
        closeSync(fd);
      }
      bytes += entry.size;
      if (++files >= AGENT.FOLDER_LAYOUT_TURN_FILES || bytes >= AGENT.FOLDER_LAYOUT_TURN_BYTES) {
        files = bytes = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    stream.close();
  }
  if (await stat(destination).catch(() => undefined)) {
    throw new ConflictError(`${destination} appeared meanwhile; not overwriting it (the folder is in ${tree})`, Codes.DESTINATION_EXISTS);
  }
  await rename(tree, destination);
  await rm(folderWorkPaths(destination).dir, { recursive: true, force: true });
  return { size, mtimeMs };
}

/** Reads a stream file front to back in large reads, handing out the bytes of each file in turn. */
class StreamReader {
  readonly #fd: number;
  readonly #buffer = Buffer.allocUnsafe(AGENT.FOLDER_COPY_BYTES);
  #position = 0;
  #start = 0;
  #end = 0;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** The next up to `most` bytes of the stream (a view, valid until the next call). */
  next(most: number): Buffer {
    if (this.#start === this.#end) {
      this.#end = readSync(this.#fd, this.#buffer, 0, this.#buffer.length, this.#position);
      this.#start = 0;
      if (this.#end === 0) throw new Error("the downloaded stream is shorter than its folder's files");
    }
    const take = Math.min(most, this.#end - this.#start);
    const chunk = this.#buffer.subarray(this.#start, this.#start + take);
    this.#start += take;
    this.#position += take;
    return chunk;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
