import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createSelfSigned, derInteger } from "../src/tls/self-signed.js";

test("a DER integer drops leading zero bytes and keeps one only where the top bit would make it negative", () => {
  assert.deepEqual(derInteger(Buffer.from([0x00, 0x1f, 0x02])), Buffer.from([0x02, 0x02, 0x1f, 0x02]));
  assert.deepEqual(derInteger(Buffer.from([0x00, 0x00, 0x9f])), Buffer.from([0x02, 0x02, 0x00, 0x9f]));
  assert.deepEqual(derInteger(Buffer.from([0x9f])), Buffer.from([0x02, 0x02, 0x00, 0x9f]));
  assert.deepEqual(derInteger(Buffer.from([0x00, 0x00])), Buffer.from([0x02, 0x01, 0x00]));
});

test("every self-signed certificate an agent makes parses, whatever its random serial", () => {
  // One in ~500 random serials starts with a zero byte before a byte under 0x80: 2000 certificates meet it almost surely.
  for (let i = 0; i < 2000; i++) {
    const { certPem } = createSelfSigned();
    assert.doesNotThrow(() => new X509Certificate(certPem), `certificate ${i} does not parse`);
  }
});
