import { test } from "node:test";
import assert from "node:assert/strict";
import { levenshtein, nearest } from "../src/suggest.js";

test("the edit distance counts insertions, deletions and substitutions", () => {
  assert.equal(levenshtein("kitten", "sitting"), 3);
  assert.equal(levenshtein("", "abc"), 3);
  assert.equal(levenshtein("login", "login"), 0);
  assert.equal(levenshtein("logout", "login"), 3);
});

test("the nearest candidate is suggested for a small typo", () => {
  assert.equal(nearest("lgoin", ["login", "logout", "list_groups"]), "login");
});

test("a word that starts only one candidate suggests that candidate", () => {
  assert.equal(nearest("upload", ["upload_file", "download_file"]), "upload_file");
});

test("nothing is suggested for a word far from every candidate", () => {
  assert.equal(nearest("xyzzy", ["login", "logout"]), undefined);
});

test("suggestions ignore the case of the typed word", () => {
  assert.equal(nearest("LOGNI", ["login", "logout"]), "login");
});
