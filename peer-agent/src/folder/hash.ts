import type { ManifestEntry } from "../../../core/api-types.js";
import { Codes, ConflictError } from "../../../core/errors.js";
import { hashStream, type FileDigest } from "../../../core/pieces.js";
import { folderFingerprint, scanFolder } from "./scan.js";

/**
 * Hashes the folder at `root` for sharing: its files (scanFolder) as one
 * stream, and its manifest. `checked` is the folder's fingerprint when it was
 * hashed (its files' total size and latest modification time), to notice a
 * change on disk later; a folder that changed while it was hashed is refused.
 */
export async function hashFolder(
  root: string,
  onProgress?: (bytesDone: number, size: number) => void,
): Promise<{ digest: FileDigest; manifest: ManifestEntry[]; checked: { size: number; mtimeMs: number } }> {
  const files = await scanFolder(root);
  const changed = () => new ConflictError(`${root} changed while it was being hashed; try again`, Codes.FILE_CHANGED);
  const digest = await hashStream(files.map((file) => ({ path: file.localPath, size: file.size })), onProgress).catch((error: unknown) => {
    throw /changed while/.test((error as Error).message) ? changed() : error;
  });
  const manifest = files.map(({ path, size }) => ({ path, size }));
  const checked = await folderFingerprint(root, manifest);
  const latest = files.reduce((max, file) => Math.max(max, file.mtimeMs), 0);
  if (!checked || checked.mtimeMs !== latest) throw changed();
  return { digest, manifest, checked };
}
