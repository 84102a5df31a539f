import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { formatBytes } from "../../../core/bytes-text.js";
import { InsufficientStorageError } from "../../../core/errors.js";

/**
 * A download that cannot fit on its disk fails at once, not after hundreds
 * of MiB: the bytes it still has to write are compared with the free space
 * of the disk that holds its .part file or tree (statfs), while the first
 * pieces are fetched.
 *
 * The blocks are not reserved (`fallocate`): node has no binding for it, and
 * running util-linux `fallocate` forks the agent. A fork marks every page
 * of the process copy-on-write, so each first write to a page afterwards is
 * a fault: a 256 MiB download spent ~100 ms more in them than the writes into
 * reserved blocks saved (docs/performance.md, "No fork in a download").
 * A disk that fills up during the download still stops it, with the same
 * error (writeFailure).
 */
export async function checkFreeSpace(path: string, bytes: number): Promise<void> {
  const disk = await statfs(dirname(path));
  const free = disk.bavail * disk.bsize;
  if (bytes > free) throw new InsufficientStorageError(`not enough free disk space for ${path}: ${formatBytes(bytes)} to write, ${formatBytes(free)} free`);
}

/** The error a failed write of a piece means for the download: a full disk is said as such. */
export function writeFailure(path: string, piece: number, message: string): Error | undefined {
  if (!/ENOSPC|no space left on device/i.test(message)) return undefined;
  return new InsufficientStorageError(`the disk is full: piece ${piece} could not be written to ${path}`);
}
