import type { Bitfield } from "../../../core/bitfield.js";
import type { FolderLayout } from "../folder/layout.js";

/** What the agent needs to serve one shared file; looked up by (group, sha1), never by a path from a request. */
export interface ServedFile {
  groupId: string;
  sha1: string;
  size: number;
  pieceSize: number;
  /** Local path chosen by this machine's user (or the .part file of a download). */
  path: string;
  /** A shared folder: `path` is its root (a download's part tree until it is whole) and its stream is read across its files. Absent for a file. */
  folder?: FolderLayout;
  /** Verified pieces: only these are served. */
  verified: Bitfield;
  /**
   * A shared file's size and modification time when it was hashed (a
   * folder's: its total size and its files' latest time): found otherwise on
   * disk, it no longer holds what its pieces' SHA1s say and is not served.
   * Absent while it is a download of this agent's.
   */
  asHashed?: { size: number; mtimeMs: number };
}

export interface ServedFiles {
  /** Undefined when this agent does not share that file in that group (or is logged out). */
  find(groupId: string, sha1: string): ServedFile | undefined;
}

/** Checks the bearer grant for (group, sha1); resolves to the requesting user id or throws a typed error. */
export type GrantCheck = (token: string | undefined, expected: { groupId: string; sha1: string }) => Promise<string>;
