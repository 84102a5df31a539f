import { statSync } from "node:fs";
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { ManifestEntry } from "../../../core/api-types.js";
import { Codes, ValidationError } from "../../../core/errors.js";
import { manifestProblem } from "../../../core/manifest.js";
import { AGENT } from "../config.js";

/** A file of a folder being shared: its manifest entry and where it is on this machine. */
export interface ScannedFile extends ManifestEntry {
  localPath: string;
  mtimeMs: number;
}

/**
 * The files of the folder at `root`, recursively, sorted by relative path
 * (`/`-separated, compared as JavaScript strings): the order their bytes
 * follow each other in the folder's stream. Refused (UNSHAREABLE_ENTRY),
 * rather than skipped, so a share never silently lacks a file:
 * a symlink that leads out of the folder or to a directory (a loop, or a
 * second copy of a subtree); a device, FIFO or socket; a name that another
 * member's filesystem could not hold (core/manifest.ts). A symlink to a file
 * inside the folder is shared as that file. Empty directories hold no file
 * and are not part of the share.
 */
export async function scanFolder(root: string): Promise<ScannedFile[]> {
  const realRoot = await realpath(root);
  const found: ScannedFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const localPath = join(dir, entry.name);
      const path = relative(root, localPath).split(sep).join("/");
      if (entry.isDirectory()) {
        await walk(localPath);
        continue;
      }
      let info = await lstat(localPath);
      if (info.isSymbolicLink()) {
        const target = await realpath(localPath).catch(() => undefined);
        if (target === undefined || !(target + sep).startsWith(realRoot + sep)) throw unshareable(path, "a symlink that leads out of the folder (or nowhere)");
        info = await stat(target);
        if (!info.isFile()) throw unshareable(path, "a symlink to something that is not a file");
      } else if (!info.isFile()) {
        throw unshareable(path, "not a regular file (a device, FIFO or socket)");
      }
      found.push({ path, size: info.size, localPath, mtimeMs: info.mtimeMs });
    }
  };
  await walk(root);
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (found.length === 0) throw new ValidationError(`${root} holds no file to share`, Codes.UNSHAREABLE_ENTRY);
  const problem = manifestProblem(found, found.reduce((sum, file) => sum + file.size, 0), Number.POSITIVE_INFINITY);
  if (problem) throw new ValidationError(`cannot share ${root}: ${problem}; rename it first`, Codes.UNSHAREABLE_ENTRY);
  return found;
}

/**
 * Size and latest modification time of a folder's files as they are now, to notice a change since it was shared;
 * undefined when one is gone or has another size. Synchronous stats, a turn's worth at a time: a round trip through libuv's pool per file costs more than the stat itself.
 */
export async function folderFingerprint(root: string, entries: readonly ManifestEntry[]): Promise<{ size: number; mtimeMs: number } | undefined> {
  let size = 0;
  let mtimeMs = 0;
  for (const [index, entry] of entries.entries()) {
    if (index > 0 && index % AGENT.FOLDER_STAT_TURN_FILES === 0) await new Promise((resolve) => setImmediate(resolve));
    const info = statSync(join(root, ...entry.path.split("/")), { throwIfNoEntry: false });
    if (!info?.isFile() || info.size !== entry.size) return undefined;
    size += info.size;
    mtimeMs = Math.max(mtimeMs, info.mtimeMs);
  }
  return { size, mtimeMs };
}

function unshareable(path: string, what: string): ValidationError {
  return new ValidationError(`cannot share the folder: ${JSON.stringify(path)} is ${what}; move it out first`, Codes.UNSHAREABLE_ENTRY);
}
