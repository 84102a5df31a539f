import { execFile } from "node:child_process";
import { InsufficientStorageError } from "../../../core/errors.js";
import { AGENT } from "../config.js";

/**
 * Reserves the disk blocks of a download's .part file up front, with
 * util-linux `fallocate` (node has no binding for it). A full disk then
 * fails the download at once, not after hundreds of MiB; and writing into
 * reserved blocks costs ext4 about half the kernel time of a sparse file
 * (see docs/performance.md, "Reserved blocks").
 * Existing data is kept, so a resumed download may call it again.
 * Where the command or the file system's support is missing, nothing is
 * reserved and the download goes on as before.
 */
export function reserveSpace(path: string, bytes: number): Promise<void> {
  if (process.platform !== "linux" || bytes === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    execFile(
      "fallocate",
      ["--length", String(bytes), "--", path],
      { timeout: AGENT.RESERVE_SPACE_TIMEOUT_MS, env: { ...process.env, LC_ALL: "C" } },
      (error, _stdout, stderr) => {
        const failure = error ? reservationFailure(path, bytes, stderr) : undefined;
        if (failure) reject(failure);
        else resolve();
      },
    );
  });
}

/** The error a failed `fallocate` means for the download: only a full disk stops it. */
export function reservationFailure(path: string, bytes: number, stderr: string): Error | undefined {
  if (!/no space left on device/i.test(stderr)) return undefined;
  return new InsufficientStorageError(`not enough free disk space for ${path} (${bytes} bytes)`);
}
