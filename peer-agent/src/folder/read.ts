import { close, open, read } from "node:fs";
import { join } from "node:path";
import type { ReadAt } from "../http/send-range.js";
import type { FolderLayout } from "./layout.js";

/**
 * Reads a shared folder's stream, for sendRange: a read at a stream position
 * reads from the one file holding it, up to that file's end (sendRange reads
 * again from where it got to, which is the next file). Each read opens and
 * closes its file: folders hold thousands of files, more than descriptors
 * should be kept open, and one open costs microseconds next to a read.
 * The descriptor sendRange passes is not used.
 */
export function folderReadAt(root: string, layout: FolderLayout): ReadAt {
  return (_fd, buffer, offset, length, position, callback) => {
    const [run] = position < layout.size ? layout.segments(position, length) : [];
    if (!run) return callback(null, 0);
    open(join(root, ...layout.entries[run.index]!.path.split("/")), "r", (openError, fd) => {
      if (openError) return callback(openError, 0);
      read(fd, buffer, offset, run.length, run.offset, (readError, bytesRead) => {
        close(fd, () => callback(readError, bytesRead));
      });
    });
  };
}
