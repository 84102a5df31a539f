import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AppError } from "../../core/errors.js";
import { COMMANDS, parseCommandLine } from "../src/commands.js";
import { tokenize } from "../src/tokenize.js";

/** Quotes a word so that the shell reads it back unchanged. */
const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

test("any words, each quoted, tokenize back to the same words", () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 30 }), { maxLength: 8 }), (words) => {
      assert.deepEqual(tokenize(words.map(quote).join(" ")), words);
    }),
  );
});

test("any line either parses into a known command with the right number of arguments or fails with a typed error", () => {
  const names = COMMANDS.map((c) => c.name);
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 80 }), fc.tuple(fc.constantFrom(...names), fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 })).map(([n, a]) => [n.toUpperCase(), ...a].join(" "))),
      (line) => {
        try {
          const parsed = parseCommandLine(line);
          if (parsed === undefined) return;
          assert.ok(names.includes(parsed.command.name));
          const required = parsed.command.params.filter((p) => !p.optional).length;
          assert.ok(parsed.args.length >= required && parsed.args.length <= parsed.command.params.length);
        } catch (error) {
          assert.ok(error instanceof AppError, String(error));
          assert.ok(!error.message.includes("\n"), "an error is one line");
        }
      },
    ),
  );
});
