import { homedir } from "node:os";
import { resolve } from "node:path";
import type { FileView, GroupView, JoinRequestView, MemberView, UserView } from "../../core/api-types.js";
import { Codes, ValidationError } from "../../core/errors.js";
import { fileNameProblem, isIdentifier } from "../../core/validation.js";
import type { DownloadInfo, LoginOutcome, PeerNodeApi, TransferRates } from "../../peer-agent/src/node-api.js";
import { keepDirectoryMark } from "../../peer-agent/src/destination.js";
import { parseByteRate } from "../../core/byte-rate.js";
import {
  formatBytes,
  formatDownloadEnd,
  formatDownloads,
  formatDownloadStarted,
  formatFiles,
  formatLimit,
  formatGroups,
  formatPercent,
  formatRequests,
  plural,
  shortSha1,
} from "./format.js";
import { nearest } from "./suggest.js";
import { tokenize } from "./tokenize.js";

/** Shows how far hashing a file for upload_file has got. */
export interface UploadProgress {
  update(bytesDone: number, size: number): void;
  stop(): void;
}

/** What a command may use besides its arguments. */
export interface CommandContext {
  node: PeerNodeApi;
  /** Relative paths in upload_file and download_file are taken from here. */
  cwd: string;
  /** Asks for a secret without echo; absent when input is not a terminal. */
  askSecret?: (prompt: string) => Promise<string>;
  /** Starts a progress display for upload_file; absent when nothing should be drawn. */
  uploadProgress?: () => UploadProgress;
  /** Told when a download has been started, so its end can be reported. */
  onDownloadStarted?: (download: DownloadInfo) => void;
  /** Told the user id after login (undefined after logout). */
  onSession?: (userId: string | undefined, outcome?: LoginOutcome) => void;
}

type ParamKind = "userId" | "groupId" | "fileName" | "path" | "password" | "command" | "direction" | "rate";

interface ParamSpec {
  /** As shown in usage lines, e.g. `group_id`. */
  name: string;
  kind: ParamKind;
  optional?: boolean;
}

export interface CommandSpec<T = unknown> {
  name: string;
  params: readonly ParamSpec[];
  /** Options written `--name` anywhere among the arguments. */
  flags?: readonly { name: string; summary: string }[];
  summary: string;
  run(ctx: CommandContext, args: readonly string[], flags: ReadonlySet<string>): Promise<T>;
  /** Text for people; `--json` prints the raw result instead. */
  render(result: T, args: readonly string[]): string;
}

function define<T>(spec: CommandSpec<T>): CommandSpec {
  return spec as CommandSpec;
}

const userId: ParamSpec = { name: "user_id", kind: "userId" };
const groupId: ParamSpec = { name: "group_id", kind: "groupId" };
const fileName: ParamSpec = { name: "file_name", kind: "fileName" };

/** `~` and `~/x` mean the home directory; the rest is taken from cwd. */
function resolvePath(cwd: string, path: string): string {
  if (path === "~") return homedir();
  if (path.startsWith("~/")) return resolve(homedir(), path.slice(2));
  return resolve(cwd, path);
}

async function passwordFrom(ctx: CommandContext, given: string | undefined, usage: string, confirm: boolean): Promise<string> {
  if (given !== undefined) return given;
  if (!ctx.askSecret) {
    throw new ValidationError(`missing <password>; usage: ${usage} (it is asked without echo only on a terminal)`, Codes.USAGE);
  }
  const password = await ctx.askSecret("password: ");
  if (password === "") throw new ValidationError("the password may not be empty", Codes.EMPTY_PASSWORD);
  if (confirm && (await ctx.askSecret("password again: ")) !== password) {
    throw new ValidationError("the two passwords differ; run the command again", Codes.PASSWORD_MISMATCH);
  }
  return password;
}

/** One secret asked without echo; refused when empty or when there is no terminal to ask on. */
async function askPassword(ctx: CommandContext, prompt: string, usage: string): Promise<string> {
  if (!ctx.askSecret) throw new ValidationError(`missing passwords; usage: ${usage} (they are asked without echo only on a terminal)`, Codes.USAGE);
  const password = await ctx.askSecret(prompt);
  if (password === "") throw new ValidationError("the password may not be empty", Codes.EMPTY_PASSWORD);
  return password;
}

function renderLogin(outcome: LoginOutcome): string {
  const lines = [`logged in as ${outcome.userId}`];
  for (const notice of outcome.notices ?? []) lines.push(`notice: ${notice}`);
  if (outcome.restored > 0) lines.push(`sharing ${plural(outcome.restored, "file")} again`);
  if (outcome.resumed > 0) lines.push(`resumed ${plural(outcome.resumed, "download")}`);
  for (const dropped of outcome.dropped) {
    lines.push(`warning: stopped sharing [${dropped.groupId}] ${dropped.fileName}: ${dropped.reason}`);
  }
  return lines.join("\n");
}

/** Every command of the client, in the order help lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  define<UserView>({
    name: "create_user",
    params: [userId, { name: "password", kind: "password", optional: true }],
    summary: "create an account (the password is asked without echo if left out on a terminal)",
    async run(ctx, [user, password]) {
      return ctx.node.createUser(user!, await passwordFrom(ctx, password, "create_user <user_id> <password>", true));
    },
    render: (user) => `created user ${user.userId}; log in with: login ${user.userId}`,
  }),
  define<LoginOutcome>({
    name: "login",
    params: [userId, { name: "password", kind: "password", optional: true }],
    summary: "log in and share again every file shared before the last logout",
    async run(ctx, [user, password]) {
      const outcome = await ctx.node.login(user!, await passwordFrom(ctx, password, "login <user_id> <password>", false));
      ctx.onSession?.(outcome.userId, outcome);
      return outcome;
    },
    render: renderLogin,
  }),
  define<void>({
    name: "change_password",
    params: [{ name: "current_password", kind: "password", optional: true }, { name: "new_password", kind: "password", optional: true }],
    summary: "change your password (both are asked without echo if left out on a terminal); your other sessions end",
    async run(ctx, [current, next]) {
      const usage = "change_password <current_password> <new_password>";
      if (current !== undefined && next === undefined) {
        throw new ValidationError(`missing <new_password>; usage: ${usage} (both are asked without echo only on a terminal)`, Codes.USAGE);
      }
      const currentPassword = current ?? (await askPassword(ctx, "current password: ", usage));
      const newPassword = next ?? (await askPassword(ctx, "new password: ", usage));
      if (next === undefined && (await askPassword(ctx, "new password again: ", usage)) !== newPassword) {
        throw new ValidationError("the two new passwords differ; run the command again", Codes.PASSWORD_MISMATCH);
      }
      await ctx.node.changePassword(currentPassword, newPassword);
    },
    render: () => "password changed; your other sessions are logged out",
  }),
  define<GroupView>({
    name: "create_group",
    params: [groupId],
    summary: "create a group; you become its owner",
    run: (ctx, [group]) => ctx.node.createGroup(group!),
    render: (group) => `created group ${group.groupId}; you are its owner`,
  }),
  define<JoinRequestView>({
    name: "join_group",
    params: [groupId],
    summary: "ask the owner of a group to let you in",
    run: (ctx, [group]) => ctx.node.joinGroup(group!),
    render: (request) => `asked to join ${request.groupId}; the owner accepts with: accept_request ${request.groupId} ${request.userId}`,
  }),
  define<void>({
    name: "leave_group",
    params: [groupId],
    summary: "leave a group (ownership passes to the earliest member who joined)",
    run: (ctx, [group]) => ctx.node.leaveGroup(group!),
    render: (_, [group]) => `left ${group}`,
  }),
  define<void>({
    name: "remove_member",
    params: [groupId, userId],
    summary: "take a member out of a group you own (their downloads from it stop within seconds)",
    run: (ctx, [group, user]) => ctx.node.removeMember(group!, user!),
    render: (_, [group, user]) => `removed ${user} from ${group}`,
  }),
  define<JoinRequestView[]>({
    name: "list_requests",
    params: [groupId],
    summary: "pending requests to join a group you own",
    run: (ctx, [group]) => ctx.node.listRequests(group!),
    render: (requests, [group]) => formatRequests(group!, requests),
  }),
  define<MemberView>({
    name: "accept_request",
    params: [groupId, userId],
    summary: "let a user into a group you own",
    run: (ctx, [group, user]) => ctx.node.acceptRequest(group!, user!),
    render: (member, [group]) => `${member.userId} is now a member of ${group}`,
  }),
  define<void>({
    name: "reject_request",
    params: [groupId, userId],
    summary: "turn down a user's request to join a group you own",
    run: (ctx, [group, user]) => ctx.node.rejectRequest(group!, user!),
    render: (_, [group, user]) => `rejected the request of ${user} to join ${group}`,
  }),
  define<GroupView[]>({
    name: "list_groups",
    params: [],
    summary: "every group in the network",
    run: (ctx) => ctx.node.listGroups(),
    render: formatGroups,
  }),
  define<FileView[]>({
    name: "list_files",
    params: [groupId],
    summary: "files shared in a group you are a member of",
    run: (ctx, [group]) => ctx.node.listFiles(group!),
    render: (files, [group]) => formatFiles(group!, files),
  }),
  define<FileView>({
    name: "upload_file",
    params: [{ name: "file_path", kind: "path" }, groupId],
    summary: "share a file, or a folder with everything in it, with a group (only names, sizes and hashes go to the tracker)",
    async run(ctx, [path, group]) {
      const progress = ctx.uploadProgress?.();
      try {
        return await ctx.node.uploadFile(resolvePath(ctx.cwd, path!), group!, progress && ((done, size) => progress.update(done, size)));
      } finally {
        progress?.stop();
      }
    },
    render: (file) => {
      const files = file.fileCount === undefined ? "" : `${plural(file.fileCount, "file")}, `;
      return `sharing ${file.fileName}${files ? "/" : ""} (${files}${formatBytes(file.size)}, sha1 ${shortSha1(file.sha1)}) in ${file.groupId}`;
    },
  }),
  define<DownloadInfo>({
    name: "download_file",
    params: [groupId, fileName, { name: "destination_path", kind: "path" }],
    flags: [{ name: "sequential", summary: "fetch from the start of the file first, to play it while it downloads" }],
    summary: "download a file (or a shared folder, recreating its tree) from the peers of a group, in the background",
    async run(ctx, [group, file, destination], flags) {
      const order = flags.has("sequential") ? "sequential" : "rarest";
      const download = await ctx.node.downloadFile(group!, file!, keepDirectoryMark(destination!, resolvePath(ctx.cwd, destination!)), order);
      ctx.onDownloadStarted?.(download);
      return download;
    },
    render: formatDownloadStarted,
  }),
  define<DownloadInfo[]>({
    name: "show_downloads",
    params: [],
    summary: "[D] downloading, [Q] queued (waits for a running one to end), [C] complete, [P] paused, [F] failed, [S] stopped by logout (resumes at login)",
    run: (ctx) => ctx.node.listDownloads(),
    render: formatDownloads,
  }),
  define<TransferRates>({
    name: "set_rate",
    params: [{ name: "up|down", kind: "direction" }, { name: "rate", kind: "rate" }],
    summary: "limit this agent's uploads or downloads, all together, e.g. set_rate up 2M (MiB/s); up 0 uploads nothing; unlimited lifts it",
    run: (ctx, [direction, rate]) => ctx.node.setRate(direction!.toLowerCase(), rate!),
    render: (rates) => `upload limit ${formatLimit(rates.up)}, download limit ${formatLimit(rates.down)}`,
  }),
  define<DownloadInfo>({
    name: "pause_download",
    params: [groupId, fileName],
    summary: "pause a download; it keeps its pieces and stays paused, across restarts too, until resume_download",
    run: (ctx, [group, file]) => ctx.node.pauseDownload(group!, file!),
    render: formatDownloadEnd,
  }),
  define<DownloadInfo>({
    name: "resume_download",
    params: [groupId, fileName],
    summary: "continue a paused or failed download from the pieces it has",
    async run(ctx, [group, file]) {
      const download = await ctx.node.resumeDownload(group!, file!);
      ctx.onDownloadStarted?.(download);
      return download;
    },
    render: (download) =>
      `download resumed: [${download.groupId}] ${download.fileName} -> ${download.destination} at ${formatPercent(download.bytesDone, download.size)} (show_downloads shows progress)`,
  }),
  define<void>({
    name: "cancel_download",
    params: [groupId, fileName],
    summary: "end an unfinished download for good and delete its partial file",
    run: (ctx, [group, file]) => ctx.node.cancelDownload(group!, file!),
    render: (_, [group, file]) => `cancelled the download of ${file} from ${group}; its partial file is deleted`,
  }),
  define<number>({
    name: "clear_downloads",
    params: [],
    summary: "take the complete downloads off show_downloads",
    run: (ctx) => ctx.node.clearDownloads(),
    render: (cleared) => `cleared ${plural(cleared, "complete download")} from the list`,
  }),
  define<void>({
    name: "stop_share",
    params: [groupId, fileName],
    summary: "stop sharing one file in a group",
    run: (ctx, [group, file]) => ctx.node.stopShare(group!, file!),
    render: (_, [group, file]) => `stopped sharing ${file} in ${group}`,
  }),
  define<void>({
    name: "logout",
    params: [],
    summary: "log out: nothing is shared until the next login",
    async run(ctx) {
      await ctx.node.logout();
      ctx.onSession?.(undefined);
    },
    render: () => "logged out; your files are shared again at your next login",
  }),
  define<string>({
    name: "help",
    params: [{ name: "command", kind: "command", optional: true }],
    summary: "list the commands, or show how to use one",
    run: async (_ctx, [name]) => helpText(name),
    render: (text) => text,
  }),
  define<void>({
    name: "quit",
    params: [],
    summary: "leave at once (unfinished downloads resume next time)",
    run: async () => undefined,
    render: () => "",
  }),
];

export const COMMAND_NAMES: readonly string[] = COMMANDS.map((command) => command.name);

export function usage(command: CommandSpec): string {
  const flags = (command.flags ?? []).map((flag) => `[--${flag.name}]`);
  // Flags last: the assignment's usage lines read as they did.
  return [command.name, ...command.params.map((p) => (p.optional ? `[${p.name}]` : `<${p.name}>`)), ...flags].join(" ");
}

export function helpText(name?: string): string {
  if (name !== undefined) {
    const command = findCommand(name);
    const flags = (command.flags ?? []).map((flag) => `\n  --${flag.name}: ${flag.summary}`).join("");
    return `usage: ${usage(command)}\n  ${command.summary}${flags}`;
  }
  const usages = COMMANDS.map(usage);
  const width = Math.max(...usages.map((u) => u.length));
  return [
    "commands (their names are not case-sensitive; user ids, group ids and file names are; quote arguments with spaces: \"my file.txt\"):",
    ...COMMANDS.map((command, i) => `  ${usages[i]!.padEnd(width)}  ${command.summary}`),
  ].join("\n");
}

/** Looks a command up by name, ignoring case; an unknown name suggests the nearest. */
export function findCommand(name: string): CommandSpec {
  const command = COMMANDS.find((c) => c.name === name.toLowerCase());
  if (command) return command;
  const guess = nearest(name, COMMAND_NAMES);
  throw new ValidationError(
    guess
      ? `unknown command "${name}"; did you mean ${guess}? (help lists the commands)`
      : `unknown command "${name}"; help lists the commands`,
    Codes.UNKNOWN_COMMAND,
  );
}

function checkArgument(param: ParamSpec, value: string): void {
  const what = param.name.replace("_", " ");
  if (param.kind === "userId" || param.kind === "groupId") {
    if (!isIdentifier(value)) {
      throw new ValidationError(`"${value}" is not a valid ${what}: use 1 to 64 letters, digits, ".", "_" or "-"`, Codes.BAD_ARGUMENT);
    }
  } else if (param.kind === "fileName") {
    const problem = fileNameProblem(value);
    if (problem) throw new ValidationError(`"${value}": ${problem}; give the name list_files shows`, Codes.BAD_ARGUMENT);
  } else if (param.kind === "direction") {
    if (!/^(up|down)$/i.test(value)) throw new ValidationError(`"${value}" is not a direction; use up or down`, Codes.BAD_ARGUMENT);
  } else if (param.kind === "rate") {
    parseByteRate(value);
  } else if (value === "") {
    throw new ValidationError(`${what} is empty`, Codes.BAD_ARGUMENT);
  }
}

export interface ParsedCommand {
  command: CommandSpec;
  args: string[];
  flags: ReadonlySet<string>;
}

/** Checks a command's words (name first) against the table: name, number of arguments, their form. */
export function parseCommandWords(words: readonly string[]): ParsedCommand {
  const [name, ...rest] = words;
  if (name === undefined) throw new ValidationError("no command given; help lists the commands", Codes.USAGE);
  const command = findCommand(name);
  // Only the command's own flags are taken out: a file really named "--x" is still an argument.
  const declared = new Set((command.flags ?? []).map((flag) => `--${flag.name}`));
  const flags = new Set(rest.filter((word) => declared.has(word)).map((word) => word.slice(2)));
  const args = rest.filter((word) => !declared.has(word));
  const required = command.params.filter((p) => !p.optional).length;
  if (args.length < required) {
    const missing = command.params.slice(args.length, required).map((p) => `<${p.name}>`).join(" ");
    throw new ValidationError(`missing ${missing}; usage: ${usage(command)}`, Codes.USAGE);
  }
  if (args.length > command.params.length) {
    const hasPath = command.params.some((p) => p.kind === "path" || p.kind === "fileName");
    throw new ValidationError(
      `too many arguments; usage: ${usage(command)}${hasPath ? ' (quote names with spaces: "my file.txt")' : ""}`,
      Codes.USAGE,
    );
  }
  args.forEach((value, i) => checkArgument(command.params[i]!, value));
  return { command, args, flags };
}

/** Parses one line typed at the shell; undefined for a blank line or a `#` comment. */
export function parseCommandLine(line: string): ParsedCommand | undefined {
  if (line.trim() === "" || line.trimStart().startsWith("#")) return undefined;
  return parseCommandWords(tokenize(line));
}
