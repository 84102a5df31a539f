import { test } from "node:test";
import assert from "node:assert/strict";
import { basename } from "node:path";
import fc from "fast-check";
import { fileNameProblem, isIdentifier } from "../validation.js";

test("an accepted identifier is 1 to 64 characters of letters, digits, dot, underscore and hyphen, and never . or ..", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 100, unit: "binary" }), fc.constantFrom(".", "..", "...", ".a")), (value) => {
      const allowed =
        value.length >= 1 && value.length <= 64 && value !== "." && value !== ".." && [...value].every((c) => /[A-Za-z0-9._-]/.test(c));
      assert.equal(isIdentifier(value), allowed);
    }),
  );
});

test("an accepted file name is its own base name and can never leave a directory", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 300, unit: "binary" }),
        fc.constantFrom(".", "..", "../x", "a/b", "a\\b", "x\u0000y", "/etc/passwd", "..\\..\\boot.ini", "\u2025/x"),
      ),
      (name) => {
        if (fileNameProblem(name) !== undefined) return;
        assert.equal(basename(name), name);
        assert.ok(name !== "." && name !== "..");
        assert.ok(!name.includes("/") && !name.includes("\\") && !name.includes("\u0000"));
        assert.ok(name.length >= 1 && name.length <= 255);
      },
    ),
  );
});

test("a path-like name is always refused with a reason", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), fc.constantFrom("/", "\\"), fc.string({ maxLength: 20 }), (a, sep, b) => {
      assert.equal(typeof fileNameProblem(`${a}${sep}${b}`), "string");
    }),
  );
});

test("an accepted file name fits a 255-byte filesystem name with its .part suffix, counted in UTF-8 bytes", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300, unit: "grapheme" }), (name) => {
      if (fileNameProblem(name) !== undefined) return;
      assert.ok(Buffer.byteLength(`${name}.part`, "utf8") <= 255);
    }),
  );
  assert.equal(fileNameProblem("a".repeat(250)), undefined);
  assert.match(fileNameProblem("a".repeat(251))!, /251 bytes/);
  assert.match(fileNameProblem("é".repeat(200))!, /400 bytes/, "200 characters, 400 bytes");
});

test("a file name with a control or bidirectional-formatting character is refused, naming the character", () => {
  const hidden = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f",
    "\u0001", "\u001f", "\u007f", "\u0080", "\u009f"];
  for (const character of hidden) {
    const problem = fileNameProblem(`invoice${character}fdp.exe`);
    const code = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
    assert.ok(problem?.includes(code), `${code}: ${problem}`);
  }
  assert.equal(fileNameProblem("résumé – 2026 (final).pdf"), undefined, "ordinary non-ASCII names stay allowed");
});

test("group and user ids can hold no control or bidirectional-formatting character", () => {
  for (const character of ["\u202e", "\u2066", "\u200f", "\u0007", "\u0085"]) assert.equal(isIdentifier(`ab${character}cd`), false);
});
