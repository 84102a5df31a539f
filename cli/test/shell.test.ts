/**
 * Pipe-mode mechanics of the shell: order of commands, error lines, waiting
 * for downloads at the end of input, logout, quit.
 *
 * Why a stand-in node: these tests are about what the shell does with the
 * PeerNodeApi calls (when it waits, in what order it calls, what it prints),
 * which needs downloads that end exactly when a test says so. The real node
 * with real trackers and peers is driven end to end by the scenario test of
 * the client command; nothing here checks the node's behaviour.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable, Writable } from "node:stream";
import { ForbiddenError } from "../../core/errors.js";
import type { FileView, GroupView, JoinRequestView, MemberView, UserView } from "../../core/api-types.js";
import type { DownloadInfo, DownloadOrder, TransferRates, LoginOutcome, NodeStatus, PeerNodeApi, ShareInfo } from "../../peer-agent/src/node-api.js";
import { completeLine, KnownNames } from "../src/complete.js";
import { Shell } from "../src/shell.js";

class StandInNode implements PeerNodeApi {
  readonly log: string[] = [];
  userId: string | undefined;
  readonly downloads = new Map<string, { info: DownloadInfo; finish: (state: "complete" | "failed") => void; done: Promise<DownloadInfo> }>();

  async status(): Promise<NodeStatus> {
    return { userId: this.userId, peerAddress: "127.0.0.1:7001", tracker: undefined, sharing: 0, downloading: 0, rates: {} };
  }
  async setRate(direction: string, rate: string): Promise<TransferRates> {
    this.log.push(`setRate ${direction} ${rate}`);
    return direction === "up" ? { up: 2 * 1024 * 1024 } : {};
  }
  async createUser(userId: string): Promise<UserView> {
    this.log.push(`createUser ${userId}`);
    return { userId, createdAt: "2026-11-25T10:00:00.000Z" };
  }
  async login(userId: string, password: string): Promise<LoginOutcome> {
    this.log.push(`login ${userId} ${password}`);
    this.userId = userId;
    return { userId, restored: 0, dropped: [], resumed: 0 };
  }
  async logout(): Promise<void> {
    this.log.push("logout");
    this.userId = undefined;
  }
  async createGroup(groupId: string): Promise<GroupView> {
    this.log.push(`createGroup ${groupId}`);
    return { groupId, owner: this.userId ?? "?", memberCount: 1, createdAt: "2026-11-25T10:00:00.000Z" };
  }
  async joinGroup(): Promise<JoinRequestView> { throw new Error("not used"); }
  async leaveGroup(): Promise<void> { throw new Error("not used"); }
  async removeMember(): Promise<void> { throw new Error("not used"); }
  async changePassword(): Promise<void> { throw new Error("not used"); }
  async listRequests(groupId: string): Promise<JoinRequestView[]> {
    throw new ForbiddenError(`only the owner of "${groupId}" (alice) may do this`, "NOT_OWNER");
  }
  async acceptRequest(): Promise<MemberView> { throw new Error("not used"); }
  async rejectRequest(): Promise<void> { throw new Error("not used"); }
  async listGroups(): Promise<GroupView[]> {
    this.log.push("listGroups");
    return [{ groupId: "movies", owner: "alice", memberCount: 2, createdAt: "" }];
  }
  async listFiles(): Promise<FileView[]> { return []; }
  async uploadFile(path: string, groupId: string): Promise<FileView> {
    this.log.push(`uploadFile ${path} ${groupId}`);
    return { groupId, fileName: "a.txt", size: 2048, sha1: "a".repeat(40), pieceCount: 1, peersOnline: 1, sharedBy: ["alice"] };
  }
  async downloadFile(groupId: string, fileName: string, destination: string, order: DownloadOrder = "rarest"): Promise<DownloadInfo> {
    this.log.push(`downloadFile ${groupId} ${fileName} ${destination}${order === "sequential" ? " sequential" : ""}`);
    const id = `d${this.downloads.size + 1}`;
    const info: DownloadInfo = {
      id, groupId, fileName, destination, state: "downloading", piecesDone: 0, pieceCount: 2, bytesDone: 0,
      size: 1024 * 1024, bytesPerSecond: 0, activePeers: 2, startedAt: "2026-11-25T10:00:00.000Z", order,
    };
    let finish!: (state: "complete" | "failed") => void;
    const done = new Promise<DownloadInfo>((resolve) => {
      finish = (state) => {
        this.log.push(`finished ${id}`);
        info.state = state;
        info.bytesDone = info.size;
        info.summary = { durationMs: 1000, bytes: info.size, averageBytesPerSecond: info.size, perPeer: [] };
        resolve({ ...info });
      };
    });
    this.downloads.set(id, { info, finish, done });
    return { ...info };
  }
  async waitForDownload(id: string): Promise<DownloadInfo> {
    this.log.push(`waitForDownload ${id}`);
    return this.downloads.get(id)!.done;
  }
  async listDownloads(): Promise<DownloadInfo[]> {
    return [...this.downloads.values()].map((d) => ({ ...d.info }));
  }
  async pauseDownload(): Promise<DownloadInfo> { throw new Error("not used"); }
  async resumeDownload(): Promise<DownloadInfo> { throw new Error("not used"); }
  async cancelDownload(): Promise<void> { throw new Error("not used"); }
  async clearDownloads(): Promise<number> { throw new Error("not used"); }
  async stopShare(): Promise<void> { throw new Error("not used"); }
  async listShares(): Promise<ShareInfo[]> { return []; }
}

function collector() {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return { stream, text: () => text };
}

function pipeShell(node: PeerNodeApi, lines: string[], options: { json?: boolean; cwd?: string } = {}) {
  const out = collector();
  const shell = new Shell({
    node,
    input: Readable.from([lines.map((line) => `${line}\n`).join("")]),
    output: out.stream,
    interactive: false,
    ...options,
  });
  return { shell, output: out.text };
}

test("piped commands run in order and print only their output", async () => {
  const node = new StandInNode();
  const { shell, output } = pipeShell(node, ["create_user alice pw", "login alice pw", "create_group movies", "list_groups"]);
  assert.equal(await shell.run(), "end-of-input");
  assert.deepEqual(node.log, ["createUser alice", "login alice pw", "createGroup movies", "listGroups", "logout"]);
  assert.equal(output(), [
    "created user alice; log in with: login alice",
    "logged in as alice",
    "created group movies; you are its owner",
    "GROUP   OWNER  MEMBERS",
    "movies  alice        2",
    "logged out",
    "",
  ].join("\n"));
});

test("a failing command prints one error line and the next command still runs", async () => {
  const node = new StandInNode();
  const { shell, output } = pipeShell(node, ["list_requests movies", "bogus_cmd", "list_groups"]);
  await shell.run();
  const lines = output().split("\n");
  assert.equal(lines[0], 'error: only the owner of "movies" (alice) may do this');
  assert.match(lines[1]!, /^error: unknown command "bogus_cmd"/);
  assert.equal(lines[2], "GROUP   OWNER  MEMBERS");
});

test("login without a password from a pipe is an error, not a prompt", async () => {
  const node = new StandInNode();
  const { shell, output } = pipeShell(node, ["login alice"]);
  await shell.run();
  assert.match(output(), /^error: missing <password>; usage: login <user_id> <password>/);
  assert.deepEqual(node.log, []);
});

test("at the end of piped input the shell waits for running downloads, then logs out", async () => {
  const node = new StandInNode();
  const { shell, output } = pipeShell(node, ["login alice pw", "download_file movies big.iso /tmp/out"]);
  const ended = shell.run();
  while (node.downloads.size === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(!node.log.includes("logout"), "logged out while a download was running");
  node.downloads.get("d1")!.finish("complete");
  assert.equal(await ended, "end-of-input");
  assert.deepEqual(node.log.slice(-2), ["finished d1", "logout"]);
  const text = output();
  assert.match(text, /^download started: \[movies\] big\.iso -> \/tmp\/out /m);
  assert.match(text, /^download complete: \[movies\] big\.iso -> \/tmp\/out\n  1\.0 MiB in 1\.0 s/m);
  assert.ok(text.indexOf("download complete") < text.indexOf("logged out"));
});

test("quit ends at once: no waiting for downloads, no logout, later lines ignored", async () => {
  const node = new StandInNode();
  const { shell } = pipeShell(node, ["login alice pw", "download_file movies big.iso /tmp/out", "QUIT", "create_group late"]);
  assert.equal(await shell.run(), "quit");
  assert.equal(node.downloads.get("d1")!.info.state, "downloading");
  assert.ok(!node.log.includes("logout"));
  assert.ok(!node.log.includes("createGroup late"));
});

test("relative paths are taken from the shell's working directory", async () => {
  const node = new StandInNode();
  const { shell } = pipeShell(node, ['upload_file "docs/a file.txt" movies', "download_file movies a.txt ../out"], { cwd: "/data/share" });
  const ended = shell.run();
  while (node.downloads.size === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  node.downloads.get("d1")!.finish("failed");
  await ended;
  assert.ok(node.log.includes("uploadFile /data/share/docs/a file.txt movies"));
  assert.ok(node.log.includes("downloadFile movies a.txt /data/out"));
});

test("download_file --sequential asks the agent for a download that fills the file from its start", async () => {
  const node = new StandInNode();
  const { shell } = pipeShell(node, ["download_file --sequential movies a.txt /data/out", "download_file movies a.txt /data/out2"]);
  const ended = shell.run();
  while (node.downloads.size < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  for (const download of node.downloads.values()) download.finish("complete");
  await ended;
  assert.ok(node.log.includes("downloadFile movies a.txt /data/out sequential"));
  assert.ok(node.log.includes("downloadFile movies a.txt /data/out2"));
});

test("set_rate checks its direction and rate before asking the agent, and shows both limits", async () => {
  const node = new StandInNode();
  const { shell, output } = pipeShell(node, ["set_rate up 2M", "set_rate sideways 2M", "set_rate down fast"]);
  await shell.run();
  assert.deepEqual(node.log.filter((line) => line.startsWith("setRate")), ["setRate up 2M"]);
  assert.match(output(), /upload limit 2\.0 MiB\/s, download limit unlimited/);
  assert.match(output(), /"sideways" is not a direction/);
  assert.match(output(), /"fast" is not a rate/);
});

test("with --json each result is printed as one line of JSON", async () => {
  const node = new StandInNode();
  const { shell, output } = pipeShell(node, ["login alice pw", "list_groups"], { json: true });
  await shell.run();
  const lines = output().trimEnd().split("\n");
  assert.deepEqual(JSON.parse(lines[0]!), { userId: "alice", restored: 0, dropped: [], resumed: 0 });
  assert.equal(JSON.parse(lines[1]!)[0].groupId, "movies");
});

test("stop ends the shell while a command is still running", async () => {
  const node = new StandInNode();
  node.listGroups = () => new Promise<GroupView[]>(() => {});
  const { shell } = pipeShell(node, ["list_groups", "create_group after"]);
  const ended = shell.run();
  await new Promise((resolve) => setTimeout(resolve, 20));
  shell.stop();
  assert.equal(await ended, "stopped");
  assert.ok(!node.log.includes("createGroup after"));
});

test("a notice from the node is printed as it comes, as JSON with --json", async () => {
  const plain = pipeShell(new StandInNode(), []);
  plain.shell.notice("tracker 1 is not answering; using tracker 2");
  const json = pipeShell(new StandInNode(), [], { json: true });
  json.shell.notice("tracker 1 is not answering; using tracker 2");
  assert.equal(plain.output(), "tracker 1 is not answering; using tracker 2\n");
  assert.deepEqual(JSON.parse(json.output()), { notice: "tracker 1 is not answering; using tracker 2" });
});

test("tab completion offers the command names that start with what was typed, keeping its case, each with a space after it", () => {
  assert.deepEqual(completeLine("list_"), [["list_requests ", "list_groups ", "list_files "], "list_"]);
  assert.deepEqual(completeLine("Show_d"), [["Show_downloads "], "Show_d"]);
  assert.deepEqual(completeLine("help upl"), [["upload_file "], "upl"]);
});

test("tab completion offers no group before the tracker has listed any", () => {
  assert.deepEqual(completeLine("join_group mo"), [[], "mo"]);
});

test("tab completion offers the group ids and file names the tracker last listed, quoting names with spaces", () => {
  const known = new KnownNames();
  known.remember("list_groups", [], [{ groupId: "movies", owner: "alice", memberCount: 2, createdAt: "" }, { groupId: "music", owner: "bob", memberCount: 1, createdAt: "" }]);
  known.remember("list_files", ["movies"], [{ fileName: "film.mkv" }, { fileName: "my film.mkv" }, { fileName: "notes.txt" }]);
  assert.deepEqual(completeLine("list_files mo", known), [["movies "], "mo"]);
  assert.deepEqual(completeLine("download_file movies f", known), [["film.mkv "], "f"]);
  assert.deepEqual(completeLine('download_file movies "my', known), [['"my film.mkv" '], '"my']);
  assert.deepEqual(completeLine("download_file music f", known), [[], "f"]);
  assert.deepEqual(completeLine("download_file movies film.mkv ~/D", known), [[], "~/D"]);
});

test("the shell completes the group a list_groups it ran has shown", async () => {
  const { shell } = pipeShell(new StandInNode(), ["login alice pw", "list_groups"]);
  await shell.run();
  assert.deepEqual(shell.complete("join_group mo"), [["movies "], "mo"]);
});
