import { test } from "node:test";
import assert from "node:assert/strict";
import { ResponseBody } from "../../src/download/dispatched-response.js";

test("a chunk that waits in a paused body is emitted as it was pushed, even when its buffer is reused meanwhile", () => {
  const body = new ResponseBody();
  const received: Buffer[] = [];
  body.pause();
  body.on("data", (chunk: Buffer) => received.push(Buffer.from(chunk)));
  const reused = Buffer.from("first");
  body.push(reused);
  reused.write("XXXXX"); // the socket's next read lands in the same memory
  body.push(Buffer.from("second"));
  body.resume();
  assert.deepEqual(received.map(String), ["first", "second"]);
});
