import { close, open, read } from "node:fs";
import { join } from "node:path";
import type { ReadAt } from "../http/send-range.js";
import type { FolderLayout } from "./layout.js";

/**
 * Reads a shared folder's stream, for sendRange: a read at a stream position
 * fills the buffer from as many files as it spans (a 512 KiB read of a
 * folder of 4–64 KiB files reads ~15 of them), so the socket gets one large
 * write, not one per small file. Each file is opened and closed for its
 * part: folders hold thousands of files, more than descriptors should be
 * kept open, and an open costs microseconds next to a read. The descriptor
 * sendRange passes is not used.
 */
export function folderReadAt(root: string, layout: FolderLayout): ReadAt {
  return (_fd, buffer, offset, length, position, callback) => {
    const runs = position < layout.size ? layout.segments(position, length) : [];
    let filled = 0;
    const next = (index: number): void => {
      const run = runs[index];
      if (!run) return callback(null, filled);
      open(join(root, ...layout.entries[run.index]!.path.split("/")), "r", (openError, fd) => {
        if (openError) return callback(openError, filled);
        read(fd, buffer, offset + filled, run.length, run.offset, (readError, bytesRead) => {
          close(fd, () => {
            if (readError) return callback(readError, filled);
            filled += bytesRead;
            // A file shorter than its manifest says: hand over what was read; sendRange notices the gap.
            if (bytesRead < run.length) return callback(null, filled);
            next(index + 1);
          });
        });
      });
    };
    next(0);
  };
}
