import { test } from "node:test";
import assert from "node:assert/strict";
import { ownerAfterLeaving } from "../../src/domain/membership.js";

const at = (minute: number) => new Date(Date.UTC(2026, 10, 25, 10, minute));

test("when the owner leaves, the member who joined earliest becomes owner", () => {
  const members = [{ userId: "owner", joinedAt: at(0) }, { userId: "late", joinedAt: at(9) }, { userId: "early", joinedAt: at(3) }];
  assert.equal(ownerAfterLeaving("owner", members, "owner"), "early");
});

test("members who joined at the same moment are ordered by user id", () => {
  const members = [{ userId: "owner", joinedAt: at(0) }, { userId: "zed", joinedAt: at(1) }, { userId: "amy", joinedAt: at(1) }];
  assert.equal(ownerAfterLeaving("owner", members, "owner"), "amy");
});

test("when another member leaves, the owner stays", () => {
  const members = [{ userId: "owner", joinedAt: at(0) }, { userId: "bob", joinedAt: at(1) }];
  assert.equal(ownerAfterLeaving("owner", members, "bob"), "owner");
});

test("when the last member leaves, nobody owns the group", () => {
  assert.equal(ownerAfterLeaving("owner", [{ userId: "owner", joinedAt: at(0) }], "owner"), undefined);
});
