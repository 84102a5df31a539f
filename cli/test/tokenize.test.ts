import { test } from "node:test";
import assert from "node:assert/strict";
import { ValidationError } from "../../core/errors.js";
import { tokenize } from "../src/tokenize.js";

test("words are separated by any run of whitespace", () => {
  assert.deepEqual(tokenize("  upload_file\t/tmp/a.txt   movies  "), ["upload_file", "/tmp/a.txt", "movies"]);
});

test("double quotes keep spaces inside one word", () => {
  assert.deepEqual(tokenize('upload_file "my file.txt" movies'), ["upload_file", "my file.txt", "movies"]);
});

test("single quotes keep everything inside literally, backslashes included", () => {
  assert.deepEqual(tokenize(`download_file g 'a "b" \\c' out`), ["download_file", "g", 'a "b" \\c', "out"]);
});

test("a backslash escapes a space outside quotes and a quote inside double quotes", () => {
  assert.deepEqual(tokenize('x my\\ file "say \\"hi\\""'), ["x", "my file", 'say "hi"']);
});

test("quoted and bare parts next to each other form one word", () => {
  assert.deepEqual(tokenize('a"b c"d'), ["ab cd"]);
});

test("an empty pair of quotes is an empty word", () => {
  assert.deepEqual(tokenize('login alice ""'), ["login", "alice", ""]);
});

test("a blank line has no words", () => {
  assert.deepEqual(tokenize("   "), []);
});

test("an unterminated quote is a validation error", () => {
  assert.throws(() => tokenize('upload_file "my file.txt movies'), (error: unknown) =>
    error instanceof ValidationError && error.code === "UNTERMINATED_QUOTE");
});
