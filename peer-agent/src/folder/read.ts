import { closeSync, constants, fstatSync, openSync, read } from "node:fs";
import { join } from "node:path";
import { Codes } from "../../../core/errors.js";
import type { ReadAt } from "../http/send-range.js";
import type { FolderLayout } from "./layout.js";

/**
 * Reads a shared folder's stream, for sendRange: a read at a stream position
 * fills the buffer from as many files as it spans (a 512 KiB read of a
 * folder of 4–64 KiB files reads ~15 of them), so the socket gets one large
 * write, not one per small file. The descriptor sendRange passes is not used.
 *
 * Each file is opened and closed for its part (a folder holds more files than
 * descriptors should be kept open), and those two are synchronous: a path
 * lookup and a descriptor cost microseconds of this thread (the files were
 * stat'ed when the share was checked, so their inodes are cached), far less
 * than a round trip through libuv's pool each. With open, read and close each
 * through the pool, one file after the other, the seeders of bench:folders
 * spent 5× the CPU on the folder that they spent on a file of its size
 * (docs/performance.md, "Folders"). The reads, which may wait for the disk,
 * still go through the pool, all of a chunk's files at once.
 */
export function folderReadAt(root: string, layout: FolderLayout, asHashed?: AsHashed): ReadAt {
  return (_fd, buffer, offset, length, position, callback) => {
    const runs = position < layout.size ? layout.segments(position, length) : [];
    if (runs.length === 0) return callback(null, 0);
    const fds: number[] = [];
    try {
      for (const run of runs) {
        const entry = layout.entries[run.index]!;
        const fd = openSync(join(root, ...entry.path.split("/")), constants.O_RDONLY);
        fds.push(fd);
        if (asHashed) checkAsHashed(fd, entry.path, entry.size, asHashed);
      }
    } catch (error) {
      fds.forEach((fd) => closeSync(fd));
      return callback(error as NodeJS.ErrnoException, 0);
    }
    const got = new Array<number>(runs.length).fill(0);
    let failure: NodeJS.ErrnoException | null = null;
    let pending = runs.length;
    let at = offset;
    runs.forEach((run, i) => {
      read(fds[i]!, buffer, at, run.length, run.offset, (error, bytesRead) => {
        failure ??= error;
        got[i] = bytesRead ?? 0;
        if (--pending > 0) return;
        fds.forEach((fd) => closeSync(fd));
        if (failure) return callback(failure, 0);
        // Only the bytes up to the first file shorter than its manifest says are the stream's; sendRange notices the gap.
        let filled = 0;
        for (let j = 0; j < runs.length; j++) {
          filled += got[j]!;
          if (got[j]! < runs[j]!.length) break;
        }
        callback(null, filled);
      });
      at += run.length;
    });
  };
}

/**
 * What a shared folder's files must still be to be served: each its manifest's
 * size, none modified after the latest modification time the folder had when
 * it was hashed. `changed` hears of the first file that is not.
 */
export interface AsHashed {
  mtimeMs: number;
  changed: () => void;
}

/** Throws FILE_CHANGED (and tells `asHashed.changed`) when the open file is not as it was hashed; an fstat of a file just opened costs a microsecond. */
function checkAsHashed(fd: number, path: string, size: number, asHashed: AsHashed): void {
  const now = fstatSync(fd);
  if (now.size === size && now.mtimeMs <= asHashed.mtimeMs) return;
  asHashed.changed();
  throw Object.assign(new Error(`${path} changed on disk since the folder was shared`), { code: Codes.FILE_CHANGED });
}
