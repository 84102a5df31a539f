import { test } from "node:test";
import assert from "node:assert/strict";
import { ValidationError } from "../../core/errors.js";
import { COMMAND_NAMES, helpText, parseCommandLine, parseCommandWords } from "../src/commands.js";

function rejects(line: string, code: string, message: RegExp) {
  assert.throws(() => parseCommandLine(line), (error: unknown) => {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

test("the table has every command of the assignment and the issue", () => {
  assert.deepEqual([...COMMAND_NAMES].sort(), [
    "accept_request", "cancel_download", "change_password", "clear_downloads", "create_group", "create_user", "download_file", "help",
    "join_group", "leave_group", "list_files", "list_groups", "list_requests", "login", "logout", "pause_download", "quit",
    "reject_request", "remove_member", "resume_download", "set_rate", "show_downloads", "stop_share", "upload_file",
  ]);
});

test("command names are matched whatever their case", () => {
  assert.equal(parseCommandLine("Show_downloads")?.command.name, "show_downloads");
  assert.equal(parseCommandLine("LIST_GROUPS")?.command.name, "list_groups");
});

test("arguments keep their case", () => {
  assert.deepEqual(parseCommandLine("JOIN_GROUP Movies")?.args, ["Movies"]);
});

test("a blank line or a # comment is no command", () => {
  assert.equal(parseCommandLine("   "), undefined);
  assert.equal(parseCommandLine("  # set up the group"), undefined);
});

test("quoted arguments with spaces are one argument", () => {
  assert.deepEqual(parseCommandLine('upload_file "/tmp/my file.txt" movies')?.args, ["/tmp/my file.txt", "movies"]);
  assert.deepEqual(parseCommandLine('download_file movies "my file.txt" "/tmp/out dir"')?.args, [
    "movies", "my file.txt", "/tmp/out dir",
  ]);
});

test("a missing argument is refused with the usage line", () => {
  rejects("accept_request movies", "USAGE", /^missing <user_id>; usage: accept_request <group_id> <user_id>$/);
});

test("too many arguments are refused with the usage line and a hint to quote names", () => {
  rejects("upload_file /tmp/my file.txt movies", "USAGE", /too many arguments; usage: upload_file <file_path> <group_id> \(quote names/);
  rejects("list_groups extra", "USAGE", /^too many arguments; usage: list_groups$/);
});

test("the password of login may be left out, to be asked for", () => {
  assert.deepEqual(parseCommandLine("login alice")?.args, ["alice"]);
  assert.deepEqual(parseCommandLine("login alice s3cret")?.args, ["alice", "s3cret"]);
});

test("an unknown command suggests the nearest one", () => {
  rejects("show_dowloads", "UNKNOWN_COMMAND", /^unknown command "show_dowloads"; did you mean show_downloads\?/);
  rejects("lgoin alice", "UNKNOWN_COMMAND", /did you mean login\?/);
});

test("an unknown command far from every name points to help", () => {
  rejects("frobnicate", "UNKNOWN_COMMAND", /^unknown command "frobnicate"; help lists the commands$/);
});

test("a user or group id that the tracker would refuse is refused before sending", () => {
  rejects('create_group "my group"', "BAD_ARGUMENT", /"my group" is not a valid group id: use 1 to 64 letters/);
  rejects("accept_request movies bob/evil", "BAD_ARGUMENT", /not a valid user id/);
});

test("a file name that is a path is refused with what to give instead", () => {
  rejects("stop_share movies ../etc/passwd", "BAD_ARGUMENT", /may not contain \/ or \\.*list_files/);
});

test("the words of a command line given as arguments are checked the same way", () => {
  assert.equal(parseCommandWords(["Download_File", "g", "f", "/tmp"]).command.name, "download_file");
  assert.throws(() => parseCommandWords([]), /no command given/);
});

test("help lists every command with its usage", () => {
  const text = helpText();
  for (const name of COMMAND_NAMES) assert.match(text, new RegExp(`^  ${name}\\b`, "m"));
  assert.match(text, /download_file <group_id> <file_name> <destination_path>/);
  assert.match(text, /login <user_id> \[password\]/);
});

test("help for one command shows its usage, and suggests for a typo", () => {
  assert.match(helpText("UPLOAD_FILE"), /^usage: upload_file <file_path> <group_id>\n/);
  assert.throws(() => helpText("uplod_file"), /did you mean upload_file\?/);
});
