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
