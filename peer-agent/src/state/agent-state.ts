import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FileMetadata } from "../../../core/api-types.js";
import { writeFileAtomic } from "./atomic-file.js";

/**
 * One file this node shares in one group for one user: a file the user
 * uploaded (complete from the start) or one it downloads (verified pieces
 * grow). The path is chosen on this machine, never taken from a request.
 */
export interface ShareRecord {
  userId: string;
  file: FileMetadata;
  /** Where the bytes are: the user's file, or the `.part` file while downloading. */
  path: string;
  /** Verified pieces, base64 bitfield (see core/bitfield.ts). */
  verified: string;
  /** Size and modification time when last checked, to notice changes on disk. */
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
  state: "downloading" | "failed";
  /** Play while downloading: pieces are fetched from the start of the file first. */
  sequential?: boolean;
  error?: { code: string; message: string };
}

export interface AgentStateData {
  version: 1;
  shares: ShareRecord[];
}

const EMPTY: AgentStateData = { version: 1, shares: [] };

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

  constructor(dir: string, options: { saveDelayMs?: number } = {}) {
    this.dir = dir;
    this.#path = join(dir, "state.json");
    this.#delayMs = options.saveDelayMs ?? 250;
  }

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let text: string;
    try {
      text = await readFile(this.#path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    const parsed = JSON.parse(text) as AgentStateData;
    if (parsed.version !== 1 || !Array.isArray(parsed.shares)) {
      throw new Error(`${this.#path} is not a state file this agent understands`);
    }
    this.#data = parsed;
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
    this.#writing = this.#writing.then(() => writeFileAtomic(this.#path, snapshot)).catch((error: unknown) => {
      process.emitWarning(`could not save agent state: ${(error as Error).message}`);
    });
  }
}
