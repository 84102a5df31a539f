/** Validators shared by the trackers, the peer agent and the CLI. */
// "." and ".." are refused: as a URL segment they would mean "here" and "up".
// A `~2`, `~3`, … suffix is the name a tracker gives the loser of a conflict
// (the same id created on two trackers during a partition); people never choose one.
const IDENTIFIER = /^(?!\.{1,2}(~|$))[A-Za-z0-9._-]{1,64}(~[0-9]{1,9})?$/;
const SHA1_HEX = /^[0-9a-f]{40}$/;

export function isIdentifier(value: unknown): value is string {
  return typeof value === "string" && IDENTIFIER.test(value);
}

export function isSha1Hex(value: unknown): value is string {
  return typeof value === "string" && SHA1_HEX.test(value);
}

/** A file name's longest UTF-8 encoding: common filesystems (ext4, APFS, NTFS in practice) store 255 bytes, and a download first writes `<name>.part`. */
export const MAX_FILE_NAME_BYTES = 255 - ".part".length;

/**
 * Characters no name may hold: C0 and C1 controls (with DEL), and the
 * bidirectional formatting characters that make `invoice\u202Efdp.exe` show
 * as `invoiceexe.pdf` (U+200E/U+200F marks, U+202A–U+202E embeddings and
 * overrides, U+2066–U+2069 isolates).
 */
// eslint-disable-next-line no-control-regex
const HIDDEN_OR_CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** The first control or bidi character of a name, as U+XXXX, or undefined when it has none. */
export function controlCharacterIn(value: string): string | undefined {
  const found = HIDDEN_OR_CONTROL.exec(value)?.[0];
  return found === undefined ? undefined : `U+${found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * Why a file name is unacceptable, or undefined when it is a safe base name:
 * never a path, never `.` or `..`, at most MAX_FILE_NAME_BYTES in UTF-8 (bytes,
 * not characters: 200 × "é" is 400 bytes), and no control or bidirectional
 * formatting characters.
 */
export function fileNameProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "file name must be a string";
  if (value.length === 0) return "file name is empty";
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > MAX_FILE_NAME_BYTES) {
    return `file name is ${bytes} bytes in UTF-8; at most ${MAX_FILE_NAME_BYTES} fit on a filesystem with the ".part" of a download`;
  }
  if (value === "." || value === "..") return `file name may not be "${value}"`;
  if (/[/\\]/.test(value)) return "file name may not contain / or \\";
  const hidden = controlCharacterIn(value);
  if (hidden) return `file name may not contain control or bidirectional-formatting characters (${hidden})`;
  return undefined;
}

export function isFileName(value: unknown): value is string {
  return fileNameProblem(value) === undefined;
}

const PEER_ADDRESS = /^[0-9A-Za-z.:[\]-]{1,80}:([0-9]{1,5})$/;

/** A peer agent's listening address as agents and trackers exchange it: `ip:port`, `host:port` or `[v6]:port`. */
export function isPeerAddress(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const port = PEER_ADDRESS.exec(value)?.[1];
  return port !== undefined && Number(port) > 0 && Number(port) <= 65535;
}

/** A TLS certificate fingerprint as trackers and agents exchange it: SHA-256, 64 lowercase hex digits. */
export function isCertFingerprint(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{64}$/.test(value);
}
