import { mkdir, readFile, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FileMetadata, ManifestEntry } from "../../../core/api-types.js";
import { AppError, Codes } from "../../../core/errors.js";
import { previousCopyPath, writeFileAtomic } from "./atomic-file.js";
import { AGENT } from "../config.js";

/**
 * One file this node shares in one group for one user: a file the user
 * uploaded (complete from the start) or one it downloads (verified pieces
 * grow). The path is chosen on this machine, never taken from a request.
 */
export interface ShareRecord {
  userId: string;
  file: FileMetadata;
  /** Where the bytes are: the user's file (or folder), or the `.part` file (a folder's stream in `.part/`) while downloading. */
  path: string;
  /** A shared folder's files in stream order; absent for a file. */
  manifest?: ManifestEntry[];
  /** Verified pieces, base64 bitfield (see core/bitfield.ts). */
  verified: string;
  /** Size and modification time when last checked, to notice changes on disk (a folder: its files' total size and latest time). */
  checkedSize: number;
  checkedMtimeMs: number;
  /** Present while the share is a download that has not finished. */
  download?: DownloadRecord;
}

export interface DownloadRecord {
  id: string;
  /** Where the file goes once complete. */
  destination: string;
  startedAt: string;
  /** Play while downloading: pieces are fetched from the start of the file first. */
  sequential?: boolean;
  /** paused: by pause_download, not resumed at login; failed: resumed by download_file or resume_download. */
  state: "downloading" | "failed" | "paused";
  error?: { code: string; message: string };
}

export interface AgentStateData {
  version: 1;
  shares: ShareRecord[];
}

const EMPTY: AgentStateData = { version: 1, shares: [] };
/** What a state file holds, said to the user when one is lost. */
const WHAT_IT_HOLDS = "the files this agent shares (for every user who logged in here) and its unfinished downloads";

/**
 * The agent's durable state in its state directory (state.json): which files
 * each user shares and which downloads are unfinished. Saves are atomic and
 * coalesced: many changes in a burst (a piece verified every few ms) become
 * one write, and `flush()` waits for everything asked so far to be on disk.
 */
export class AgentStateStore {
  readonly dir: string;
  readonly #path: string;
  #data: AgentStateData = structuredClone(EMPTY);
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  readonly #delayMs: number;
  readonly #onWarning: (line: string) => void;

  constructor(dir: string, options: { saveDelayMs?: number; onWarning?: (line: string) => void } = {}) {
    this.dir = dir;
    this.#path = join(dir, "state.json");
    this.#delayMs = options.saveDelayMs ?? AGENT.STATE_SAVE_DELAY_MS;
    this.#onWarning = options.onWarning ?? ((line) => process.emitWarning(line));
  }

  /** The state file's path. */
  get path(): string {
    return this.#path;
  }

  /**
   * Reads state.json. Every save keeps the previous one as state.json.bak, so
   * a state.json found empty, truncated or otherwise unreadable is moved aside
   * (state.json.broken-<time>) and the agent goes on from the last good copy,
   * with a warning naming both files. When the copy is unreadable too, nothing
   * is guessed: a STATE_UNRECOVERABLE error names the files and what is lost,
   * and the next start begins with an empty state. Creates nothing when
   * there is no state.json (see createDir).
   */
  async load(): Promise<void> {
    const main = await readState(this.#path);
    if (main.state === "missing") return;
    if (main.state === "ok") {
      this.#data = main.data;
      return;
    }
    const aside = `${this.#path}.broken-${new Date().toISOString().replaceAll(":", "-")}`;
    await rename(this.#path, aside);
    const backupPath = previousCopyPath(this.#path);
    const backup = await readState(backupPath);
    if (backup.state === "ok") {
      this.#data = backup.data;
      const savedAt = (await stat(backupPath)).mtime.toISOString();
      this.#onWarning(
        `the agent state file ${this.#path} was unreadable (${main.why}); recovered from its last good copy ${backupPath} ` +
          `(saved ${savedAt}; pieces verified after that are fetched again); the unreadable file is kept as ${aside}`,
      );
      await writeFileAtomic(this.#path, JSON.stringify(this.#data));
      return;
    }
    const copy = backup.state === "missing" ? `there is no earlier copy (${backupPath})` : `its copy ${backupPath} is unreadable too (${backup.why})`;
    throw new AppError(
      500,
      Codes.STATE_UNRECOVERABLE,
      `the agent state file ${this.#path} is unreadable (${main.why}) and ${copy}; lost: ${WHAT_IT_HOLDS} ` +
        `(files on disk are untouched: share them again with upload_file, start downloads again). ` +
        `The unreadable file was moved to ${aside}; the next start begins with an empty state`,
    );
  }

  /** Makes the state directory, once the agent is known to have started: a failed start leaves nothing behind. */
  async createDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  sharesOf(userId: string): ShareRecord[] {
    return this.#data.shares.filter((share) => share.userId === userId);
  }

  find(userId: string, groupId: string, fileName: string): ShareRecord | undefined {
    return this.#data.shares.find((s) => s.userId === userId && s.file.groupId === groupId && s.file.fileName === fileName);
  }

  /** Adds or replaces the share of (user, group, file name). */
  put(record: ShareRecord): void {
    this.remove(record.userId, record.file.groupId, record.file.fileName);
    this.#data.shares.push(record);
    this.changed();
  }

  remove(userId: string, groupId: string, fileName: string): void {
    const before = this.#data.shares.length;
    this.#data.shares = this.#data.shares.filter(
      (s) => !(s.userId === userId && s.file.groupId === groupId && s.file.fileName === fileName),
    );
    if (this.#data.shares.length !== before) this.changed();
  }

  /** Records that a record was mutated in place; it is saved shortly. */
  changed(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#save();
    }, this.#delayMs);
  }

  /** Writes any pending change now and waits for it. */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#save();
    }
    await this.#writing;
  }

  #save(): void {
    const snapshot = JSON.stringify(this.#data);
    this.#writing = this.#writing.then(() => writeFileAtomic(this.#path, snapshot, 0o600, { keepPrevious: true })).catch((error: unknown) => {
      process.emitWarning(`could not save agent state: ${(error as Error).message}`);
    });
  }
}

type ReadOutcome = { state: "ok"; data: AgentStateData } | { state: "missing" } | { state: "unreadable"; why: string };

/** Reads and checks one state file; says why it cannot be used rather than throwing a parser's error. */
async function readState(path: string): Promise<ReadOutcome> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { state: "missing" };
    return { state: "unreadable", why: (error as Error).message };
  }
  if (text.trim() === "") return { state: "unreadable", why: "it is empty" };
  let parsed: Partial<AgentStateData>;
  try {
    parsed = JSON.parse(text) as Partial<AgentStateData>;
  } catch (error) {
    return { state: "unreadable", why: `not JSON, truncated or damaged: ${(error as Error).message}` };
  }
  if (typeof parsed !== "object" || parsed === null || parsed.version !== 1 || !Array.isArray(parsed.shares)) {
    return { state: "unreadable", why: "not a state file this agent understands" };
  }
  return { state: "ok", data: parsed as AgentStateData };
}
