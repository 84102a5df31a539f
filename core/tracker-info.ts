import { readFile } from "node:fs/promises";
import { Codes, ValidationError } from "./errors.js";

export interface TrackerAddress {
  /** 1-based position in tracker_info.txt: the tracker's number. */
  number: number;
  host: string;
  port: number;
  /** Base URL, e.g. http://127.0.0.1:6001 or https://tracker.example.org:6001 */
  url: string;
}

/**
 * Parses tracker_info.txt: one tracker per line as `ip:port` or `ip port`
 * (plain HTTP, the assignment's format), or `https://host:port` (TLS, the
 * certificate checked); blank lines and `#` comments are ignored. Throws a ValidationError naming
 * the offending line.
 */
export function parseTrackerInfo(text: string, source = "tracker_info.txt"): TrackerAddress[] {
  const trackers: TrackerAddress[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") return;
    const scheme = /^(https?):\/\//i.exec(line)?.[1]?.toLowerCase() ?? "http";
    const rest = line.replace(/^https?:\/\//i, "").replace(/\/$/, "");
    const match = /^(\[[0-9a-fA-F:]+\]|[^\s:/]+)(?::|\s+)(\d{1,5})$/.exec(rest);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port < 1 || port > 65535) {
      throw new ValidationError(
        `${source} line ${index + 1}: expected "ip:port", "ip port" or "https://host:port", got "${raw.trim()}"`,
        Codes.BAD_TRACKER_INFO,
      );
    }
    const host = match[1]!;
    trackers.push({ number: trackers.length + 1, host, port, url: `${scheme}://${host}:${port}` });
  });
  if (trackers.length === 0) {
    throw new ValidationError(`${source} lists no trackers`, Codes.BAD_TRACKER_INFO);
  }
  return trackers;
}

export async function readTrackerInfo(path: string): Promise<TrackerAddress[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ValidationError(`cannot read ${path}: ${(error as Error).message}`, Codes.BAD_TRACKER_INFO);
  }
  return parseTrackerInfo(text, path);
}

/** Picks tracker N (1-based) with a clear error when N is not in the file. */
export function selectTracker(trackers: TrackerAddress[], number: number): TrackerAddress {
  const tracker = Number.isInteger(number) ? trackers[number - 1] : undefined;
  if (!tracker) {
    throw new ValidationError(
      `tracker number must be between 1 and ${trackers.length}, got "${number}"`,
      Codes.BAD_TRACKER_NUMBER,
    );
  }
  return tracker;
}

/** Whether a host names this machine: 127.0.0.0/8, ::1 or localhost (what never leaves it). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * Refuses to send a password to a tracker over plain HTTP unless it is on
 * this machine or the user said --insecure: on a network anyone on the path
 * would read it. Every listed tracker counts, since failover may reach any.
 */
export function assertPasswordTravelsSafely(trackers: readonly TrackerAddress[], insecure: boolean): void {
  if (insecure) return;
  const exposed = trackers.find((t) => t.url.startsWith("http:") && !isLoopbackHost(t.host));
  if (exposed) {
    throw new ValidationError(
      `tracker ${exposed.number} (${exposed.host}:${exposed.port}) is plain HTTP on the network: your password would travel readable; list it as https://${exposed.host}:${exposed.port} or pass --insecure`,
      Codes.INSECURE_TRACKER,
    );
  }
}

/** Reads a --ca file (PEM); a missing or unreadable one is a usage error naming it. */
export async function readCaFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new ValidationError(`cannot read the CA file ${path}: ${(error as Error).message}`, Codes.BAD_TRACKER_INFO);
  }
}
