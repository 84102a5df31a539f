import { link, open, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

/** Where `writeFileAtomic(path, …, { keepPrevious: true })` keeps the content `path` had before the last write. */
export function previousCopyPath(path: string): string {
  return `${path}.bak`;
}

/**
 * Replaces `path` with `data` so that a crash at any moment leaves either the
 * old or the new content, never a torn file: write a temporary file beside it,
 * fsync it, rename it over the target.
 *
 * With `keepPrevious`, the content being replaced stays as `path.bak` (a hard
 * link made and renamed into place before the new content is: no copy, and
 * `path` itself is never missing), so a file damaged after it was written
 * still has its last good copy beside it.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
  { keepPrevious = false }: { keepPrevious?: boolean } = {},
): Promise<void> {
  const temporary = `${temporaryName(path)}.tmp`;
  const handle = await open(temporary, "w", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  if (keepPrevious) await keepCopy(path);
  await rename(temporary, path);
}

async function keepCopy(path: string): Promise<void> {
  const linked = `${temporaryName(path)}.bak`;
  await rm(linked, { force: true });
  try {
    await link(path, linked);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // nothing to keep yet
    throw error;
  }
  await rename(linked, previousCopyPath(path));
}

function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}`);
}
