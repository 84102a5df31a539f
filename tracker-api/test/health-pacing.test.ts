import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Pacer } from "../src/http/health-pacing.js";

test("the health line lets a burst through at once, the rest in turn at the pace, and refuses callers beyond its length", async () => {
  const pacer = new Pacer({ perSecond: 10, burst: 2, maxWaiting: 3 });
  const through: number[] = [];
  const entered = Array.from({ length: 6 }, (_, i) => pacer.enter(() => through.push(i)));
  assert.deepEqual(entered, [true, true, true, true, true, false]);
  assert.deepEqual(through, [0, 1]);
  await sleep(50);
  assert.deepEqual(through, [0, 1], "the next turn comes 100 ms later at 10 a second");
  await sleep(400);
  assert.deepEqual(through, [0, 1, 2, 3, 4], "those waiting went through in order");
});
