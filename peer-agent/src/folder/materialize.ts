import { mkdir, open, rename, rm, stat } from "node:fs/promises";
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
 */
export async function layOutFolder(destination: string, entries: readonly ManifestEntry[]): Promise<void> {
  const { complete, tree } = folderWorkPaths(destination);
  await rm(tree, { recursive: true, force: true });
  await mkdir(tree);
  const directories = new Set<string>();
  for (const entry of entries) {
    for (let dir = dirname(entry.path); dir !== "."; dir = dirname(dir)) directories.add(dir);
  }
  // Shortest first: a parent is made before its children, each exactly once.
  for (const dir of [...directories].sort((a, b) => a.length - b.length)) await mkdir(join(tree, ...dir.split("/")));
  const stream = await open(complete, "r");
  try {
    const buffer = Buffer.allocUnsafe(AGENT.FOLDER_COPY_BYTES);
    let position = 0;
    for (const entry of entries) {
      const file = await open(join(tree, ...entry.path.split("/")), "wx");
      try {
        for (let left = entry.size; left > 0; ) {
          const { bytesRead } = await stream.read(buffer, 0, Math.min(buffer.length, left), position);
          if (bytesRead === 0) throw new Error(`the downloaded stream ends inside ${entry.path}`);
          await file.write(buffer, 0, bytesRead);
          position += bytesRead;
          left -= bytesRead;
        }
      } finally {
        await file.close();
      }
    }
  } finally {
    await stream.close();
  }
  if (await stat(destination).catch(() => undefined)) {
    throw new ConflictError(`${destination} appeared meanwhile; not overwriting it (the folder is in ${tree})`, Codes.DESTINATION_EXISTS);
  }
  await rename(tree, destination);
  await rm(folderWorkPaths(destination).dir, { recursive: true, force: true });
}
