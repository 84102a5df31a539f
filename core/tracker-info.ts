import { readFile } from "node:fs/promises";
import { ValidationError } from "./errors.js";

export interface TrackerAddress {
  /** 1-based position in tracker_info.txt: the tracker's number. */
  number: number;
  host: string;
  port: number;
  /** Base URL, e.g. http://127.0.0.1:6001 */
  url: string;
}

/**
 * Parses tracker_info.txt: one tracker per line as `ip:port` or `ip port`;
 * blank lines and `#` comments are ignored. Throws a ValidationError naming
 * the offending line.
 */
export function parseTrackerInfo(text: string, source = "tracker_info.txt"): TrackerAddress[] {
  const trackers: TrackerAddress[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") return;
    const match = /^(\[[0-9a-fA-F:]+\]|[^\s:]+)(?::|\s+)(\d{1,5})$/.exec(line);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port < 1 || port > 65535) {
      throw new ValidationError(
        `${source} line ${index + 1}: expected "ip:port" or "ip port", got "${raw.trim()}"`,
        "BAD_TRACKER_INFO",
      );
    }
    const host = match[1]!;
    trackers.push({ number: trackers.length + 1, host, port, url: `http://${host}:${port}` });
  });
  if (trackers.length === 0) {
    throw new ValidationError(`${source} lists no trackers`, "BAD_TRACKER_INFO");
  }
  return trackers;
}

export async function readTrackerInfo(path: string): Promise<TrackerAddress[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ValidationError(`cannot read ${path}: ${(error as Error).message}`, "BAD_TRACKER_INFO");
  }
  return parseTrackerInfo(text, path);
}

/** Picks tracker N (1-based) with a clear error when N is not in the file. */
export function selectTracker(trackers: TrackerAddress[], number: number): TrackerAddress {
  const tracker = Number.isInteger(number) ? trackers[number - 1] : undefined;
  if (!tracker) {
    throw new ValidationError(
      `tracker number must be between 1 and ${trackers.length}, got "${number}"`,
      "BAD_TRACKER_NUMBER",
    );
  }
  return tracker;
}
