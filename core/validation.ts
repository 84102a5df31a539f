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

/**
 * Why a file name is unacceptable, or undefined when it is a safe base name:
 * never a path, never `.` or `..`, no NUL or control characters.
 */
export function fileNameProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "file name must be a string";
  if (value.length === 0) return "file name is empty";
  if (value.length > 255) return "file name is longer than 255 characters";
  if (value === "." || value === "..") return `file name may not be "${value}"`;
  if (/[/\\]/.test(value)) return "file name may not contain / or \\";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return "file name may not contain control characters or NUL";
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
