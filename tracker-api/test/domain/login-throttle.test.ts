import { test } from "node:test";
import assert from "node:assert/strict";
import { LoginThrottle } from "../../src/domain/login-throttle.js";
import { TooManyRequestsError } from "../../../core/errors.js";

test("the sixth failure within the window is refused with the seconds to wait", () => {
  let now = 0;
  const throttle = new LoginThrottle(5, 60_000, () => now);
  for (let i = 0; i < 5; i++) {
    throttle.check(["user:a"]);
    throttle.recordFailure(["user:a"]);
    now += 1000;
  }
  assert.throws(() => throttle.check(["user:a"]), (error: unknown) =>
    error instanceof TooManyRequestsError && error.retryAfterSeconds === 55);
  assert.doesNotThrow(() => throttle.check(["user:b"]));
});

test("failures older than the window no longer count", () => {
  let now = 0;
  const throttle = new LoginThrottle(2, 10_000, () => now);
  throttle.recordFailure(["k"]);
  throttle.recordFailure(["k"]);
  assert.throws(() => throttle.check(["k"]), TooManyRequestsError);
  now = 10_001;
  assert.doesNotThrow(() => throttle.check(["k"]));
});

test("a successful login clears the count", () => {
  const throttle = new LoginThrottle(2, 10_000, () => 0);
  throttle.recordFailure(["k"]);
  throttle.recordSuccess(["k"]);
  throttle.recordFailure(["k"]);
  assert.doesNotThrow(() => throttle.check(["k"]));
});
