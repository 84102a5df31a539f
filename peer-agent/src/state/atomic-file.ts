import { open, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

/**
 * Replaces `path` with `data` so that a crash at any moment leaves either the
 * old or the new content, never a torn file: write a temporary file beside it,
 * fsync it, rename it over the target.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
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
  await rename(temporary, path);
}
