import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";

/**
 * A folder of four files (one empty, one in a subdirectory) whose contents,
 * in manifest order, are the 16 bytes of `stream`: small enough that a test
 * can name every byte of a read that crosses files.
 */
export function smallFolder(): {
  entries: { path: string; size: number }[];
  stream: Buffer;
  /** Writes the folder's files under `root` (made if missing) and returns it. */
  writeTo(root: string): Promise<string>;
} {
  const stream = randomBytes(16);
  return {
    entries: [
      { path: "a.bin", size: 5 },
      { path: "empty", size: 0 },
      { path: "sub/b.bin", size: 3 },
      { path: "z.bin", size: 8 },
    ],
    stream,
    async writeTo(root) {
      await mkdir(path.join(root, "sub"), { recursive: true });
      await writeFile(path.join(root, "a.bin"), stream.subarray(0, 5));
      await writeFile(path.join(root, "empty"), "");
      await writeFile(path.join(root, "sub", "b.bin"), stream.subarray(5, 8));
      await writeFile(path.join(root, "z.bin"), stream.subarray(8, 16));
      return root;
    },
  };
}
