import type { FileView, GroupView, JoinRequestView } from "../../core/api-types.js";
import type { DownloadInfo, PeerTransfer } from "../../peer-agent/src/node-api.js";
import { formatBytes } from "../../core/bytes-text.js";

/** Pure text formatting for everything the client prints. */

export { formatBytes };

export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** A transfer limit: a speed, or `unlimited` when there is none. */
export function formatLimit(bytesPerSecond: number | undefined): string {
  return bytesPerSecond === undefined ? "unlimited" : formatSpeed(bytesPerSecond);
}

/** `0.4 s`, `12.3 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
  const minutes = Math.round(whole / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

export function formatPercent(done: number, total: number): string {
  const percent = total > 0 ? (done / total) * 100 : 100;
  // never show 100.0% for something unfinished
  return `${(done < total ? Math.min(percent, 99.9) : percent).toFixed(1)}%`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

export function shortSha1(sha1: string): string {
  return sha1.slice(0, 10);
}

/** `2026-11-25T10:00:07.123Z` → `2026-11-25 10:00 UTC`; anything else unchanged. */
export function formatTimestamp(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return match ? `${match[1]} ${match[2]} UTC` : iso;
}

export interface Column {
  header: string;
  align?: "left" | "right";
}

/**
 * A plain-text table: a header row, then one row per entry, columns separated
 * by two spaces, no trailing spaces. Numbers read best right-aligned.
 */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? "";
        return column.align === "right" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)].join("\n");
}

export function formatGroups(groups: readonly GroupView[]): string {
  if (groups.length === 0) return "no groups yet; create one with create_group <group_id>";
  return formatTable(
    [{ header: "GROUP" }, { header: "OWNER" }, { header: "MEMBERS", align: "right" }],
    groups.map((group) => [group.groupId, group.owner, String(group.memberCount)]),
  );
}

export function formatFiles(groupId: string, files: readonly FileView[]): string {
  if (files.length === 0) return `no files are shared in ${groupId}; share one with upload_file <file_path> ${groupId}`;
  return formatTable(
    [{ header: "FILE" }, { header: "SIZE", align: "right" }, { header: "SHA1" }, { header: "PEERS ONLINE", align: "right" }],
    files.map((file) => [fileLabel(file), formatBytes(file.size), shortSha1(file.sha1), String(file.peersOnline)]),
  );
}

/** A file by its name; a folder as `name/ (3 files)`, so it reads as one entry that holds several. */
export function fileLabel(file: Pick<FileView, "fileName" | "fileCount">): string {
  return file.fileCount === undefined ? file.fileName : `${file.fileName}/ (${plural(file.fileCount, "file")})`;
}

export function formatRequests(groupId: string, requests: readonly JoinRequestView[]): string {
  if (requests.length === 0) return `no pending requests to join ${groupId}`;
  return formatTable(
    [{ header: "USER" }, { header: "REQUESTED" }],
    requests.map((request) => [request.userId, formatTimestamp(request.requestedAt)]),
  );
}

const STATE_LETTER: Record<DownloadInfo["state"], string> = {
  queued: "Q",
  downloading: "D",
  complete: "C",
  failed: "F",
  paused: "P",
  stopped: "S",
};

/**
 * `3.0 MiB in 1.2 s, average 2.5 MiB/s, from 2 peers`: how a complete download went. A resumed one says what
 * this run fetched, and the whole size apart, so the bytes, the time and the speed agree.
 */
function formatSummaryLine(download: DownloadInfo): string | undefined {
  const summary = download.summary;
  if (!summary) return undefined;
  const senders = summary.perPeer.filter((peer) => peer.bytes > 0).length;
  const before = download.size - summary.bytes;
  const resumed = before > 0 ? ` (${formatBytes(download.size)} with the ${formatBytes(before)} verified before)` : "";
  return `${formatBytes(summary.bytes)} in ${formatDuration(summary.durationMs)}, average ${formatSpeed(summary.averageBytesPerSecond)}, from ${plural(senders, "peer")}${resumed}`;
}

/**
 * One show_downloads line in the assignment's format, `[D] [group] file` or
 * `[C] [group] file`, then where it goes (two downloads of one file to two
 * folders differ there), then for a running download progress, speed and
 * peer count; a complete one how it went, a failed one why, a paused or
 * stopped one how far it got.
 */
export function formatDownloadLine(download: DownloadInfo): string {
  const head = `[${STATE_LETTER[download.state]}] [${download.groupId}] ${download.fileName} -> ${download.destination}`;
  const progress = formatPercent(download.bytesDone, download.size);
  switch (download.state) {
    case "queued":
      return `${head}  queued at ${progress}; starts when a running download ends`;
    case "downloading":
      return [head, progress, formatSpeed(download.bytesPerSecond), plural(download.activePeers, "peer")].join("  ");
    case "complete": {
      const summary = formatSummaryLine(download);
      return summary ? `${head}  ${summary}` : head;
    }
    case "failed":
      return `${head}  ${download.error?.message ?? "failed"}`;
    case "paused":
      return `${head}  paused at ${progress}`;
    case "stopped":
      return `${head}  stopped at ${progress}; resumes at the next login`;
  }
}

export function formatDownloads(downloads: readonly DownloadInfo[]): string {
  if (downloads.length === 0) return "no downloads; start one with download_file <group_id> <file_name> <destination_path>";
  return downloads.map(formatDownloadLine).join("\n");
}

/** A word as typed at the shell: quoted when it holds a space or a quote. */
export function quoteWord(word: string): string {
  return /[\s"'\\]/.test(word) ? JSON.stringify(word) : word;
}

export function formatDownloadStarted(download: DownloadInfo): string {
  return `download started: [${download.groupId}] ${download.fileName} -> ${download.destination} (${formatBytes(download.size)}; show_downloads shows progress)`;
}

function formatPeerTable(peers: readonly PeerTransfer[]): string {
  const sorted = [...peers].sort((a, b) => b.bytes - a.bytes || a.userId.localeCompare(b.userId));
  return formatTable(
    [
      { header: "PEER" },
      { header: "ADDRESS" },
      { header: "RECEIVED", align: "right" },
      { header: "PIECES", align: "right" },
      { header: "FAILURES", align: "right" },
      { header: "" },
    ],
    sorted.map((peer) => [
      peer.userId,
      peer.address,
      formatBytes(peer.bytes),
      String(peer.pieces),
      String(peer.failures),
      peer.banned ? "banned" : "",
    ]),
  );
}

/**
 * What the client prints when a download ends: for a complete one the time,
 * the average speed, how many peers sent pieces and the bytes from each peer
 * (banned peers marked); for a failed or stopped one, why and how far it got.
 */
export function formatDownloadEnd(download: DownloadInfo): string {
  const what = `[${download.groupId}] ${download.fileName}`;
  if (download.state === "failed") {
    return `download failed: ${what} at ${formatPercent(download.bytesDone, download.size)}: ${download.error?.message ?? "unknown error"}`;
  }
  if (download.state === "stopped") {
    return `download stopped: ${what} at ${formatPercent(download.bytesDone, download.size)}; it resumes after the next login`;
  }
  if (download.state === "paused") {
    return `download paused: ${what} at ${formatPercent(download.bytesDone, download.size)}; resume_download ${download.groupId} ${quoteWord(download.fileName)} continues it`;
  }
  if (download.state === "downloading") return formatDownloadLine(download);
  const lines = [`download complete: ${what} -> ${download.destination}`];
  const summary = formatSummaryLine(download);
  if (summary) lines.push(`  ${summary}`);
  if (download.summary && download.summary.perPeer.length > 0) lines.push(indent(formatPeerTable(download.summary.perPeer), "  "));
  return lines.join("\n");
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => prefix + line)
    .join("\n");
}

/**
 * Every error the client shows is one line, `error: <message>`. Typed errors
 * carry messages that say what to do; anything else shows its own message.
 */
export function formatError(error: unknown): string {
  const message =
    error instanceof Error ? error.message || error.name : typeof error === "string" ? error : String(error);
  const oneLine = message.replace(/\s*\r?\n\s*/g, "; ").trim();
  return `error: ${oneLine || "unknown error"}`;
}
