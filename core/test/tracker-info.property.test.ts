import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ValidationError } from "../errors.js";
import { parseTrackerInfo } from "../tracker-info.js";

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join("."));
const port = fc.integer({ min: 1, max: 65535 });
const separator = fc.constantFrom(":", " ", "\t", "  ");
const comment = fc.option(fc.string({ maxLength: 20 }).map((text) => ` # ${text.replace(/[\r\n]/g, "")}`), { nil: "" });

test("every well-formed tracker_info lists its trackers in file order, whatever the comments and blank lines", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(ipv4, separator, port, comment, fc.boolean()), { minLength: 1, maxLength: 10 }),
      (entries) => {
        const text = entries
          .map(([host, sep, p, note, blankAfter]) => `${host}${sep === ":" ? ":" : sep}${p}${note}${blankAfter ? "\n\n# spacer" : ""}`)
          .join("\n");
        const trackers = parseTrackerInfo(text);
        assert.deepEqual(
          trackers.map((t) => [t.number, t.host, t.port]),
          entries.map(([host, , p], i) => [i + 1, host, p]),
        );
      },
    ),
  );
});

test("any text either parses into valid addresses or fails with a ValidationError naming a line", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      try {
        for (const tracker of parseTrackerInfo(text)) {
          assert.ok(tracker.port >= 1 && tracker.port <= 65535);
          assert.ok(!/[\s#]/.test(tracker.host));
          assert.equal(tracker.url, `http://${tracker.host}:${tracker.port}`);
        }
      } catch (error) {
        assert.ok(error instanceof ValidationError, String(error));
        assert.match(error.message, /line \d+|lists no trackers/);
      }
    }),
  );
});
