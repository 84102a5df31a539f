import type { ManifestEntry } from "../../../core/api-types.js";

/** A run of a folder's stream that lies in one file: `length` bytes at `offset` in the file at `index` of the manifest. */
export interface Segment {
  index: number;
  offset: number;
  length: number;
}

/**
 * Where a shared folder's stream lies in its files: the files' bytes one
 * after the other in manifest order, so stream position p is in the file
 * whose start is the last one at or before p (empty files hold no byte and
 * are never found). Pure: no file system, so the mapping is tested alone.
 */
export class FolderLayout {
  readonly entries: readonly ManifestEntry[];
  /** starts[i]: the stream position of file i's first byte; starts[n] the stream's size. */
  readonly #starts: Float64Array;

  constructor(entries: readonly ManifestEntry[]) {
    this.entries = entries;
    this.#starts = new Float64Array(entries.length + 1);
    for (let i = 0; i < entries.length; i++) this.#starts[i + 1] = this.#starts[i]! + entries[i]!.size;
  }

  get size(): number {
    return this.#starts[this.entries.length]!;
  }

  /** The first byte of file `index` in the stream. */
  startOf(index: number): number {
    return this.#starts[index]!;
  }

  /** The file holding stream position `position` (0 ≤ position < size). */
  fileAt(position: number): number {
    if (!(position >= 0 && position < this.size)) throw new RangeError(`position ${position} is outside the folder's ${this.size} bytes`);
    // The last start ≤ position; among files starting there (empty ones first), the one that holds a byte.
    let low = 0;
    let high = this.entries.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.#starts[middle]! <= position) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The runs of stream bytes [start, start + length) in file order, one per file they touch. */
  segments(start: number, length: number): Segment[] {
    const found: Segment[] = [];
    if (length <= 0) return found;
    const end = Math.min(start + length, this.size);
    let position = start;
    for (let index = this.fileAt(start); position < end; index++) {
      const fileEnd = this.#starts[index + 1]!;
      if (fileEnd <= position) continue; // an empty file
      const take = Math.min(end, fileEnd) - position;
      found.push({ index, offset: position - this.#starts[index]!, length: take });
      position += take;
    }
    return found;
  }
}
