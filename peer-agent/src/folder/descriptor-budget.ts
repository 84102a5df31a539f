import { readFileSync } from "node:fs";
import { AGENT } from "../config.js";

let known: number | undefined;

/**
 * This process's limit of open descriptors: the soft one, which Node raises
 * to the hard one at start (often 2^20; 20,000 on the machine measured; a
 * service manager or a container may set far less).
 */
export function openFileLimit(): number {
  if (known !== undefined) return known;
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    known = line?.[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(line?.[1] ?? AGENT.ASSUMED_OPEN_FILE_LIMIT) || AGENT.ASSUMED_OPEN_FILE_LIMIT;
  } catch {
    known = AGENT.ASSUMED_OPEN_FILE_LIMIT;
  }
  return known;
}

/**
 * How many descriptors a folder download may leave between its threads
 * (folder/descriptors.ts), per stage: AGENT.FOLDER_HANDED_FILES, but at most
 * an eighth of the process's limit each, so that the two together keep a
 * quarter of it at most and the agent's sockets, its other downloads and the
 * files opened by path still find descriptors. (Before this bound, a folder
 * of 5,000 files failed with EMFILE in an agent limited to 512 descriptors.)
 */
export function handedFileBounds(limit = openFileLimit()): { made: number; written: number } {
  const share = Math.max(1, Math.floor(limit / 8));
  return { made: Math.min(AGENT.FOLDER_HANDED_FILES.made, share), written: Math.min(AGENT.FOLDER_HANDED_FILES.written, share) };
}
