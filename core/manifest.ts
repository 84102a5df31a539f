import type { ManifestEntry } from "./api-types.js";
import { fileNameProblem } from "./validation.js";

/**
 * A path inside a shared folder is at most this many UTF-8 bytes: Linux's
 * PATH_MAX is 4096, which leaves the destination folder ~90 bytes in front.
 */
export const MAX_MANIFEST_PATH_BYTES = 4000;

/**
 * Why a folder's manifest cannot be recreated safely on any machine, or
 * undefined when it can. The manifest comes from another user's agent through
 * a tracker, so a downloader checks it too before it writes anything:
 * - every path is relative, `/`-separated, with components that are safe base
 *   names (fileNameProblem: no `.`/`..`, no `\`, no control or bidi character,
 *   short enough for `<name>.part`), at most MAX_MANIFEST_PATH_BYTES in all;
 * - no two paths collide on a filesystem that ignores case or Unicode
 *   normalization (`A.txt` and `a.txt`; `é` composed and decomposed), and no
 *   path is a file and also a directory of another (`a` and `a/b`);
 * - sizes are whole numbers that add up to the stream's `size`.
 */
export function manifestProblem(entries: readonly ManifestEntry[], size: number, maxFiles: number): string | undefined {
  if (entries.length === 0) return "a folder's manifest lists no file";
  if (entries.length > maxFiles) return `a folder may hold at most ${maxFiles} files, this one lists ${entries.length}`;
  const files = new Map<string, string>();
  const directories = new Map<string, string>();
  let total = 0;
  for (const [index, entry] of entries.entries()) {
    const where = `manifest entry ${index + 1} (${JSON.stringify(String(entry.path).slice(0, 200))})`;
    const problem = pathProblem(entry.path);
    if (problem) return `${where}: ${problem}`;
    if (!Number.isSafeInteger(entry.size) || entry.size < 0) return `${where}: size must be a whole number of bytes`;
    total += entry.size;
    const key = collisionKey(entry.path);
    const clash = files.get(key) ?? directories.get(key);
    if (clash !== undefined) return `${where}: collides with "${clash}" on a filesystem that ignores case or Unicode normalization`;
    files.set(key, entry.path);
    const parts = key.split("/");
    for (let depth = 1; depth < parts.length; depth++) {
      const directory = parts.slice(0, depth).join("/");
      const file = files.get(directory);
      if (file !== undefined) return `${where}: "${file}" is a file, so it cannot also be a directory`;
      directories.set(directory, entry.path.split("/").slice(0, depth).join("/"));
    }
  }
  if (total !== size) return `the manifest's files add up to ${total} bytes, but the folder's size is ${size}`;
  return undefined;
}

/** Why one manifest path is unsafe, or undefined. */
export function pathProblem(path: unknown): string | undefined {
  if (typeof path !== "string" || path.length === 0) return "a path must be a non-empty string";
  const bytes = Buffer.byteLength(path, "utf8");
  if (bytes > MAX_MANIFEST_PATH_BYTES) return `a path is ${bytes} bytes in UTF-8; at most ${MAX_MANIFEST_PATH_BYTES}`;
  if (path.startsWith("/")) return "a path must be relative";
  for (const component of path.split("/")) {
    if (component === "") return "a path may not have an empty component (// or a trailing /)";
    const problem = fileNameProblem(component);
    if (problem) return problem.replace(/^file name/, `"${component.slice(0, 100)}"`);
  }
  return undefined;
}

/** The name two paths share when a filesystem that ignores case and Unicode normalization would make them one. */
export function collisionKey(path: string): string {
  return path.normalize("NFC").toLowerCase();
}
