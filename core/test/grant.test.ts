import { test } from "node:test";
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet } from "jose";
import { signGrant, verifyGrant } from "../grant.js";
import { ForbiddenError, UnauthorizedError } from "../errors.js";

const subject = { userId: "dave", groupId: "team", sha1: "a".repeat(40), fileName: "movie.mp4" };

async function trackerKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" };
  return { privateKey, kid, issuer: "tracker-1", jwk };
}

const rejectsWith = (kind: Function, code: string) => (error: unknown) =>
  error instanceof kind && (error as UnauthorizedError).code === code;

test("a grant signed by a tracker key for this group and file is accepted", async () => {
  const key = await trackerKey("t1");
  const jwks: JSONWebKeySet = { keys: [key.jwk] };
  const claims = await verifyGrant(await signGrant(subject, key), jwks, { groupId: "team", sha1: subject.sha1 });
  assert.equal(claims.sub, "dave");
  assert.equal(claims.file, "movie.mp4");
  assert.ok(claims.exp > claims.iat);
});

test("a grant for another group or file is forbidden", async () => {
  const key = await trackerKey("t1");
  const token = await signGrant(subject, key);
  const jwks = { keys: [key.jwk] };
  await assert.rejects(verifyGrant(token, jwks, { groupId: "other", sha1: subject.sha1 }),
    rejectsWith(ForbiddenError, "GRANT_WRONG_FILE"));
  await assert.rejects(verifyGrant(token, jwks, { groupId: "team", sha1: "b".repeat(40) }),
    rejectsWith(ForbiddenError, "GRANT_WRONG_FILE"));
});

test("a grant signed by a key that is not a tracker's is refused", async () => {
  const tracker = await trackerKey("t1");
  const stranger = await trackerKey("t1");
  const token = await signGrant(subject, stranger);
  await assert.rejects(verifyGrant(token, { keys: [tracker.jwk] }, { groupId: "team", sha1: subject.sha1 }),
    rejectsWith(UnauthorizedError, "GRANT_INVALID"));
  const unknownKid = await signGrant(subject, { ...stranger, kid: "nobody" });
  await assert.rejects(verifyGrant(unknownKid, { keys: [tracker.jwk] }, { groupId: "team", sha1: subject.sha1 }),
    rejectsWith(UnauthorizedError, "GRANT_UNKNOWN_KEY"));
});

test("an expired grant is refused", async () => {
  const key = await trackerKey("t1");
  const token = await new SignJWT({ grp: "team", sha1: subject.sha1, file: "movie.mp4" })
    .setProtectedHeader({ alg: "EdDSA", kid: "t1" })
    .setSubject("dave")
    .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(key.privateKey);
  await assert.rejects(verifyGrant(token, { keys: [key.jwk] }, { groupId: "team", sha1: subject.sha1 }),
    rejectsWith(UnauthorizedError, "GRANT_EXPIRED"));
});

test("a tampered or garbage grant is refused", async () => {
  const key = await trackerKey("t1");
  const token = await signGrant(subject, key);
  const [header, , signature] = token.split(".");
  const forgedPayload = Buffer.from(JSON.stringify({ sub: "mallory", grp: "team", sha1: subject.sha1, file: "x",
    exp: Math.floor(Date.now() / 1000) + 600 })).toString("base64url");
  for (const bad of [`${header}.${forgedPayload}.${signature}`, "not-a-jwt", ""]) {
    await assert.rejects(verifyGrant(bad, { keys: [key.jwk] }, { groupId: "team", sha1: subject.sha1 }),
      rejectsWith(UnauthorizedError, "GRANT_INVALID"));
  }
});
