import { test } from "node:test";
import assert from "node:assert/strict";
import { ForbiddenError } from "../../core/errors.js";
import type { DownloadInfo } from "../../peer-agent/src/node-api.js";
import {
  formatBytes,
  formatDownloadEnd,
  formatDownloadLine,
  formatDownloads,
  formatDuration,
  formatError,
  formatFiles,
  formatGroups,
  formatRequests,
  formatLimit,
  formatSpeed,
  formatTable,
} from "../src/format.js";

const MiB = 1024 * 1024;

function download(overrides: Partial<DownloadInfo>): DownloadInfo {
  return {
    id: "d1",
    groupId: "movies",
    fileName: "big.iso",
    destination: "/data/big.iso",
    state: "downloading",
    order: "rarest",
    piecesDone: 0,
    pieceCount: 512,
    bytesDone: 0,
    size: 256 * MiB,
    bytesPerSecond: 0,
    activePeers: 0,
    startedAt: "2026-11-25T10:00:00.000Z",
    ...overrides,
  };
}

test("sizes use binary units with one decimal", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(87.3 * MiB), "87.3 MiB");
  assert.equal(formatBytes(1024 * MiB), "1.0 GiB");
});

test("a size just under the next unit is shown in the next unit, never as 1024.0", () => {
  assert.equal(formatBytes(MiB - 1), "1.0 MiB");
});

test("speeds are sizes per second", () => {
  assert.equal(formatSpeed(87.3 * MiB), "87.3 MiB/s");
});

test("rates are shown in the largest unit that fits", () => {
  assert.equal(formatLimit(2 * 1024 * 1024), "2.0 MiB/s");
  assert.equal(formatLimit(undefined), "unlimited");
  assert.equal(formatLimit(0), "0 B/s");
});

test("durations read as seconds, minutes or hours", () => {
  assert.equal(formatDuration(360), "0.4 s");
  assert.equal(formatDuration(59_970), "1 min 00 s");
  assert.equal(formatDuration(12_340), "12.3 s");
  assert.equal(formatDuration(125_000), "2 min 05 s");
  assert.equal(formatDuration(3_720_000), "1 h 02 min");
});

test("a running download shows its state, group, name, progress, speed and peers", () => {
  const line = formatDownloadLine(download({ bytesDone: 0.42 * 256 * MiB, bytesPerSecond: 87.3 * MiB, activePeers: 3 }));
  assert.equal(line, "[D] [movies] big.iso -> /data/big.iso  42.0%  87.3 MiB/s  3 peers");
});

test("a running download with one peer says peer, not peers", () => {
  assert.match(formatDownloadLine(download({ activePeers: 1 })), / 1 peer$/);
});

test("an unfinished download never shows 100.0%", () => {
  assert.match(formatDownloadLine(download({ bytesDone: 256 * MiB - 1 })), /  99\.9%  /);
});

test("a complete download is the assignment's [C] line and where it went", () => {
  assert.equal(formatDownloadLine(download({ state: "complete", bytesDone: 256 * MiB })), "[C] [movies] big.iso -> /data/big.iso");
});

/** A 256 MiB download complete, this run having fetched `bytes` from bob in `durationMs`. */
function completeFromBob(durationMs: number, bytes: number, averageBytesPerSecond: number): DownloadInfo {
  const perPeer = [{ userId: "bob", address: "127.0.0.1:7002", bytes, pieces: bytes / (512 * 1024), failures: 0, banned: false }];
  return download({ state: "complete", bytesDone: 256 * MiB, summary: { durationMs, bytes, averageBytesPerSecond, perPeer } });
}

test("a complete download's line says how it went", () => {
  const line = formatDownloadLine(completeFromBob(3200, 256 * MiB, 80 * MiB));
  assert.equal(line, "[C] [movies] big.iso -> /data/big.iso  256.0 MiB in 3.2 s, average 80.0 MiB/s, from 1 peer");
});

test("a resumed download's line gives what this run fetched, its time and speed, and the whole size apart", () => {
  const line = formatDownloadLine(completeFromBob(2000, 192 * MiB, 96 * MiB));
  assert.equal(line, "[C] [movies] big.iso -> /data/big.iso  192.0 MiB in 2.0 s, average 96.0 MiB/s, from 1 peer (256.0 MiB with the 64.0 MiB verified before)");
});

test("two downloads of one file to two folders are told apart by where they go", () => {
  const text = formatDownloads([
    download({ state: "complete", destination: "/data/big.iso" }),
    download({ id: "d2", state: "complete", destination: "/backup/big.iso" }),
  ]);
  assert.deepEqual(text.split("\n"), ["[C] [movies] big.iso -> /data/big.iso", "[C] [movies] big.iso -> /backup/big.iso"]);
});

test("a paused download shows [P] and how far it got", () => {
  assert.equal(formatDownloadLine(download({ state: "paused", bytesDone: 64 * MiB })), "[P] [movies] big.iso -> /data/big.iso  paused at 25.0%");
});

test("a failed download shows [F] and why", () => {
  const line = formatDownloadLine(download({ state: "failed", error: { code: "NO_PEER_ONLINE", message: "no peer is online" } }));
  assert.equal(line, "[F] [movies] big.iso -> /data/big.iso  no peer is online");
});

test("show_downloads prints one line per download, or says there are none", () => {
  const text = formatDownloads([download({}), download({ id: "d2", fileName: "b.txt", state: "complete" })]);
  assert.deepEqual(text.split("\n").map((line) => line.slice(0, 3)), ["[D]", "[C]"]);
  assert.match(formatDownloads([]), /^no downloads/);
});

test("tables pad columns, right-align numbers and leave no trailing spaces", () => {
  const text = formatTable([{ header: "NAME" }, { header: "N", align: "right" }, { header: "NOTE" }], [
    ["a", "5", ""],
    ["long-name", "123", "x"],
  ]);
  assert.equal(text, ["NAME         N  NOTE", "a            5", "long-name  123  x"].join("\n"));
});

test("groups are listed with owner and member count", () => {
  const text = formatGroups([{ groupId: "movies", owner: "alice", memberCount: 3, createdAt: "" }]);
  assert.equal(text, "GROUP   OWNER  MEMBERS\nmovies  alice        3");
});

test("files are listed with size, short sha1 and peers online", () => {
  const text = formatFiles("movies", [{
    groupId: "movies", fileName: "big.iso", size: 256 * MiB, sha1: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
    pieceCount: 512, peersOnline: 3, sharedBy: ["a", "b", "c"],
  }]);
  assert.equal(text, "FILE          SIZE  SHA1        PEERS ONLINE\nbig.iso  256.0 MiB  2fd4e1c67a             3");
});

test("a shared folder is one line of list_files, its name marked as a folder with its file count, beside plain files as before", () => {
  const text = formatFiles("class", [
    { groupId: "class", fileName: "course", size: 340 * MiB, sha1: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", pieceCount: 680, peersOnline: 4, sharedBy: ["a"], fileCount: 10_000 },
    { groupId: "class", fileName: "notes.pdf", size: MiB, sha1: "a9993e364706816aba3e25717850c26c9cd0d89d", pieceCount: 2, peersOnline: 1, sharedBy: ["a"] },
  ]);
  assert.equal(text, [
    "FILE                        SIZE  SHA1        PEERS ONLINE",
    "course/ (10000 files)  340.0 MiB  2fd4e1c67a             4",
    "notes.pdf                1.0 MiB  a9993e3647             1",
  ].join("\n"));
});

test("empty lists say so and what to do", () => {
  assert.match(formatGroups([]), /create_group <group_id>/);
  assert.match(formatFiles("movies", []), /no files are shared in movies; share one with upload_file <file_path> movies/);
  assert.equal(formatRequests("movies", []), "no pending requests to join movies");
});

test("join requests show who asked and when, in UTC", () => {
  const text = formatRequests("movies", [{ groupId: "movies", userId: "bob", requestedAt: "2026-11-25T10:07:33.120Z" }]);
  assert.equal(text, "USER  REQUESTED\nbob   2026-11-25 10:07 UTC");
});

test("the summary of a complete download gives time, speed, senders and bytes per peer, banned marked", () => {
  const text = formatDownloadEnd(download({
    state: "complete",
    bytesDone: 256 * MiB,
    summary: {
      durationMs: 3200,
      bytes: 256 * MiB,
      averageBytesPerSecond: 80 * MiB,
      perPeer: [
        { userId: "carol", address: "127.0.0.1:7003", bytes: 100 * MiB, pieces: 200, failures: 0, banned: false },
        { userId: "dave", address: "127.0.0.1:7004", bytes: 0, pieces: 0, failures: 3, banned: true },
        { userId: "bob", address: "127.0.0.1:7002", bytes: 156 * MiB, pieces: 312, failures: 1, banned: false },
      ],
    },
  }));
  assert.equal(text, [
    "download complete: [movies] big.iso -> /data/big.iso",
    "  256.0 MiB in 3.2 s, average 80.0 MiB/s, from 2 peers",
    "  PEER   ADDRESS          RECEIVED  PIECES  FAILURES",
    "  bob    127.0.0.1:7002  156.0 MiB     312         1",
    "  carol  127.0.0.1:7003  100.0 MiB     200         0",
    "  dave   127.0.0.1:7004        0 B       0         3  banned",
  ].join("\n"));
});

test("a failed download ends with how far it got and why", () => {
  const text = formatDownloadEnd(download({ state: "failed", bytesDone: 64 * MiB, error: { code: "X", message: "every peer failed" } }));
  assert.equal(text, "download failed: [movies] big.iso at 25.0%: every peer failed");
});

test("an error is one line starting with error:", () => {
  assert.equal(formatError(new ForbiddenError('only the owner of "movies" (alice) may do this')),
    'error: only the owner of "movies" (alice) may do this');
  assert.equal(formatError(new Error("first\nsecond")), "error: first; second");
  assert.equal(formatError("plain"), "error: plain");
});
