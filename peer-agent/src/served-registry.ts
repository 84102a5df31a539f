import type { HoldingReport } from "../../core/api-types.js";
import { Bitfield } from "../../core/bitfield.js";
import { FolderLayout } from "./folder/layout.js";
import type { ServedFile, ServedFiles } from "./http/served-file.js";
import type { SwarmEvents } from "./http/swarm-events.js";
import type { ShareRecord } from "./state/agent-state.js";

interface Entry extends ServedFile {
  fileName: string;
}

/**
 * What the logged-in user's agent serves right now, by (group, sha1). Empty
 * while nobody is logged in, so a logged-out agent serves nothing.
 */
export class ServedRegistry implements ServedFiles {
  readonly #entries = new Map<string, Entry>();
  readonly #events: SwarmEvents | undefined;

  /** `events` hears of every piece verified here, and ends a file's watchers when it stops being served. */
  constructor(events?: SwarmEvents) {
    this.#events = events;
  }

  find(groupId: string, sha1: string): ServedFile | undefined {
    return this.#entries.get(key(groupId, sha1));
  }

  /** Serves the verified pieces of a share; returns the live entry, whose bitfield grows as pieces verify. */
  add(record: ShareRecord): ServedFile {
    const { file } = record;
    const entry: Entry = {
      groupId: file.groupId,
      fileName: file.fileName,
      sha1: file.sha1,
      size: file.size,
      pieceSize: file.pieceSize,
      path: record.path,
      verified: Bitfield.fromBase64(file.pieceHashes.length, record.verified),
      ...(record.manifest ? { folder: new FolderLayout(record.manifest) } : {}),
      ...(!record.download ? { asHashed: { size: record.checkedSize, mtimeMs: record.checkedMtimeMs } } : {}),
    };
    this.#entries.set(key(file.groupId, file.sha1), entry);
    return entry;
  }

  /** A piece of a served file was verified: it is served and announced from now on. */
  pieceVerified(file: ServedFile, piece: number): void {
    file.verified.set(piece);
    if (this.#entries.get(key(file.groupId, file.sha1)) === file) this.#events?.have(file.groupId, file.sha1, piece);
  }

  remove(groupId: string, sha1: string): void {
    this.#entries.delete(key(groupId, sha1));
    this.#events?.closeFile(groupId, sha1);
  }

  clear(): void {
    this.#entries.clear();
    this.#events?.closeAll();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** What to tell the tracker: every served file with at least one verified piece. */
  holdings(): HoldingReport[] {
    return [...this.#entries.values()]
      .filter((entry) => entry.verified.count > 0)
      .map((entry) => ({ groupId: entry.groupId, fileName: entry.fileName, sha1: entry.sha1, piecesHeld: entry.verified.count }));
  }
}

function key(groupId: string, sha1: string): string {
  return `${groupId}\u0000${sha1}`;
}
