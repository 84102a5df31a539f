import { test } from "node:test";
import assert from "node:assert/strict";
import { TRACKER } from "../../src/config.js";

const LOGIN_THROTTLE = TRACKER.LOGIN_THROTTLE;
import { LoginThrottle } from "../../src/domain/login-throttle.js";

function throttleAt(start = 0) {
  let now = start;
  const throttle = new LoginThrottle(LOGIN_THROTTLE, () => now);
  const fail = (account: string, address: string, accountExists = true) => throttle.record({ account, address, accountExists, ok: false, at: now });
  const ok = (account: string, address: string) => throttle.record({ account, address, accountExists: true, ok: true, at: now });
  const allowed = (account: string, address: string) => {
    try {
      throttle.check(account, address);
      return true;
    } catch {
      return false;
    }
  };
  return { throttle, fail, ok, allowed, advance: (ms: number) => (now += ms) };
}

test("an account waits after five failures from strangers, twice as long after each further one", () => {
  const t = throttleAt();
  for (let i = 0; i < 5; i++) t.fail("bob", `10.0.0.${i}`);
  assert.equal(t.allowed("bob", "10.0.1.1"), false);
  t.advance(1000);
  assert.equal(t.allowed("bob", "10.0.1.1"), true);
  t.fail("bob", "10.0.1.1");
  t.advance(1000);
  assert.equal(t.allowed("bob", "10.0.1.2"), false, "the sixth failure doubles the wait to 2 s");
  t.advance(1000);
  assert.equal(t.allowed("bob", "10.0.1.2"), true);
});

test("an address the owner logged in from before is not locked by strangers' failures on the account", () => {
  const t = throttleAt();
  t.ok("bob", "192.168.1.5");
  for (let i = 0; i < 20; i++) t.fail("bob", "203.0.113.9");
  assert.equal(t.allowed("bob", "203.0.113.9"), false);
  assert.equal(t.allowed("bob", "198.51.100.1"), false, "another stranger is locked too");
  assert.equal(t.allowed("bob", "192.168.1.5"), true);
});

test("failures against different accounts from one address do not lock its other users until the address clearly attacks", () => {
  const t = throttleAt();
  for (let i = 0; i < 29; i++) t.fail(`user${i}`, "198.51.100.7");
  assert.equal(t.allowed("carol", "198.51.100.7"), true);
  t.fail("user29", "198.51.100.7");
  assert.equal(t.allowed("carol", "198.51.100.7"), false, "30 failures from one address: the address waits");
});

test("failures against made-up user ids count on the address only", () => {
  const t = throttleAt();
  for (let i = 0; i < 10; i++) t.fail("nobody", "10.0.0.1", false);
  assert.equal(t.allowed("nobody", "10.0.0.2"), true);
});

test("counters are forgotten an hour after the last failure", () => {
  const t = throttleAt();
  for (let i = 0; i < 12; i++) t.fail("bob", "10.0.0.1");
  t.advance(LOGIN_THROTTLE.forgetMs + 1);
  assert.equal(t.allowed("bob", "10.0.0.1"), true);
});
