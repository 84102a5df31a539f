import { test } from "node:test";
import assert from "node:assert/strict";
import { recentAnswer } from "../recent-answer.js";

test("200 concurrent callers share one run of the question", async () => {
  let runs = 0;
  const ask = recentAnswer(async () => {
    runs++;
    await new Promise((resolve) => setTimeout(resolve, 10));
    return runs;
  }, { maxAgeMs: 1000 });
  const answers = await Promise.all(Array.from({ length: 200 }, () => ask()));
  assert.equal(runs, 1);
  assert.ok(answers.every((answer) => answer === 1));
});

test("an answer is reused until it is maxAgeMs old, then asked again", async () => {
  let clock = 0;
  let runs = 0;
  const ask = recentAnswer(async () => ++runs, { maxAgeMs: 500, now: () => clock });
  assert.equal(await ask(), 1);
  clock = 499;
  assert.equal(await ask(), 1);
  clock = 500;
  assert.equal(await ask(), 2);
});

test("a failed run is not kept: the next caller asks again", async () => {
  let runs = 0;
  const ask = recentAnswer(async () => {
    runs++;
    if (runs === 1) throw new Error("database busy");
    return "ok";
  }, { maxAgeMs: 1000 });
  await assert.rejects(ask(), /database busy/);
  assert.equal(await ask(), "ok");
});

test("when what it depends on changed, the answer is asked again once it is minAgeMs old", async () => {
  let clock = 0;
  let version = "a";
  let runs = 0;
  const ask = recentAnswer(async () => ++runs, { maxAgeMs: 1000, minAgeMs: 100, version: () => version, now: () => clock });
  assert.equal(await ask(), 1);
  version = "b";
  clock = 99;
  assert.equal(await ask(), 1, "a flood within minAgeMs shares the answer");
  clock = 100;
  assert.equal(await ask(), 2);
  clock = 999;
  assert.equal(await ask(), 2, "unchanged: reused up to maxAgeMs");
});
