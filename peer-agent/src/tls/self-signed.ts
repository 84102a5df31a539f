import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";

/**
 * A self-signed X.509 certificate made with node:crypto alone (no
 * dependency): an ECDSA P-256 key (fast handshakes) and the smallest v3
 * certificate TLS accepts. Nobody validates it against a CA: downloaders pin
 * its SHA-256, registered through the tracker, so names and validity only
 * need to parse.
 */
export interface TlsIdentity {
  keyPem: string;
  certPem: string;
  /** SHA-256 of the certificate's DER, lowercase hex: what the tracker hands out. */
  fingerprint: string;
}

/**
 * `ipAddress`: also name that IPv4 address (subjectAltName) and mark the
 * certificate as its own CA, so a client given it as `ca` verifies a server
 * at that address the ordinary way (a tracker's test certificate).
 */
export function createSelfSigned(commonName = "p2p-peer-agent", ipAddress?: string): TlsIdentity {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecdsaWithSha256 = seq(oid([1, 2, 840, 10045, 4, 3, 2]));
  const name = seq(set(seq(oid([2, 5, 4, 3]), tlv(0x0c, Buffer.from(commonName, "utf8")))));
  const now = new Date();
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(randomBytes(16)),
    ecdsaWithSha256,
    name,
    // Validity is not checked by anyone (the pin is); UTCTime stops at 2049.
    seq(utcTime(new Date(now.getTime() - 24 * 3600_000)), tlv(0x17, Buffer.from("491231235959Z"))),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    ...(ipAddress ? [tlv(0xa3, seq(
      seq(oid([2, 5, 29, 19]), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff]))))), // basicConstraints cA
      seq(oid([2, 5, 29, 17]), tlv(0x04, seq(tlv(0x87, Buffer.from(ipAddress.split(".").map(Number)))))), // subjectAltName IP
    ))] : []),
  );
  const signature = sign("sha256", tbs, privateKey as KeyObject); // DER ECDSA-Sig-Value
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return {
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    certPem: `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END CERTIFICATE-----\n`,
    fingerprint: certFingerprint(der),
  };
}

export function certFingerprint(der: Buffer): string {
  return createHash("sha256").update(der).digest("hex");
}

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));

/**
 * A non-negative INTEGER from big-endian bytes, in DER's minimal form: leading
 * zero bytes dropped (a random serial starting 0x00 0x1f… was refused by
 * OpenSSL as "illegal padding", about one agent start in 500), then one zero
 * byte put back when the top bit is set, so the number stays positive.
 */
export function derInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const minimal = bytes.subarray(start);
  return tlv(0x02, minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}
const integer = derInteger;

function oid(arcs: number[]): Buffer {
  const out = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) base128.unshift((v & 0x7f) | 0x80);
    out.push(...base128);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-12-02T13:22:14.000Z
  const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + "Z";
  return tlv(0x17, Buffer.from(text));
}
