import { lstat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ManifestEntry } from "../../../core/api-types.js";
import { Codes, ConflictError, ValidationError } from "../../../core/errors.js";
import { AGENT } from "../config.js";

/**
 * Where a folder download keeps its work, all inside `<destination>.part/` (one
 * name that fits wherever `<name>.part` does): `tree`, the folder's files as
 * the pieces are written into them (folder/tree-files.ts), renamed to the
 * destination in one step once every piece and the whole stream's SHA1 checked.
 */
export function folderWorkPaths(destination: string): { dir: string; tree: string } {
  const dir = `${destination}.part`;
  return { dir, tree: join(dir, "tree") };
}

/** Refuses a folder whose deepest path would not fit the system's path limit under `destination` (while downloading, inside its work folder). */
export function checkPathsFit(destination: string, entries: readonly ManifestEntry[]): void {
  const base = Buffer.byteLength(folderWorkPaths(destination).tree, "utf8") + 1;
  for (const entry of entries) {
    if (base + Buffer.byteLength(entry.path, "utf8") > AGENT.MAX_PATH_BYTES) {
      throw new ValidationError(`${entry.path} would be too long a path under ${destination}; choose a shorter destination`, Codes.BAD_MANIFEST);
    }
  }
}

/**
 * Makes the work folder and its tree, or takes the ones a stopped download
 * left, only if they are real directories: a symlink put in their place
 * would carry every write of the download somewhere else.
 */
export async function prepareWorkTree(destination: string): Promise<string> {
  const { dir, tree } = folderWorkPaths(destination);
  for (const path of [dir, tree]) {
    await mkdir(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    if (!(await lstat(path)).isDirectory()) {
      throw new ConflictError(`${path} is not a directory this download made (a symlink or a file); remove it or cancel the download`, Codes.DESTINATION_EXISTS);
    }
  }
  return tree;
}
