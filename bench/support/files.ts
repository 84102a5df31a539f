/** Test files for the benches: random content, a page cache warmed the same way before each timed row, SHA1 checks. */
import { randomBytes } from "node:crypto";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./processes.js";

/** Writes `bytes` bytes made by `fill` (random by default) to `path`. */
export async function generate(path: string, bytes: number, fill: () => Buffer = () => randomBytes(16 << 20)): Promise<void> {
  const handle = await open(path, "w");
  for (let done = 0; done < bytes; ) {
    const block = fill();
    const length = Math.min(block.length, bytes - done);
    await handle.write(block, 0, length, done);
    done += length;
  }
  await handle.close();
}

/**
 * This machine is a VM whose guest reports freed memory back to the host
 * (free page reporting), and writing 1 GiB into reported, cold pages costs
 * ~2 s of kernel time instead of ~0.2 s (measured with dd: 0.22 s right after
 * a delete, 2.47 s after 5 s idle). The kernel reports free pages 2 s after a
 * free wakes it (PAGE_REPORTING_DELAY), all of them at once. So every timed
 * row starts right after the same warm-up: a scratch file of the download's
 * size written and deleted. And first a pause of 2.5 s, so the report that the
 * previous row's deleted file started is over: otherwise it could fall in the
 * middle of the row and turn the rest of the warm-up's pages cold (a row
 * started 1 s after the warm-up took 1.59–1.68 s instead of 1.25–1.46 s, with
 * 0.45 s more CPU; without the pause, 3 rounds of 12 looked like that).
 */
const zeros = Buffer.alloc(16 << 20);
export async function warmPageCache(dir: string, bytes: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const path = join(dir, "warm.bin");
  await generate(path, bytes, () => zeros);
  await rm(path);
}

export async function sha1Of(path: string): Promise<string> {
  const { stdout } = await run("sha1sum", [path]);
  return stdout.split(" ")[0]!;
}

/** Throws unless the file at `path` has SHA1 `expected`. */
export async function checkSha1(row: string, path: string, expected: string): Promise<void> {
  const actual = await sha1Of(path);
  if (actual !== expected) throw new Error(`${row}: wrong SHA1 ${actual} for ${path}, expected ${expected}`);
}
