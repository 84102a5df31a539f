/**
 * Where a socket's reads land (net's `onread` option): one reused arena per
 * connection, handed out window by window, instead of a fresh buffer per read.
 *
 * A TLS socket delivers every record (16 KiB at most) as a read of its own,
 * and keeps delivering the records it already decrypted after it was asked to
 * pause; so a read lands in the free space right after the previous one, and
 * the arena starts over only once nothing older than the newest read is
 * unread. Unread bytes are what the socket still holds (`readableLength`),
 * which also counts bytes a reader took and gave back (`unshift`): a window
 * is never handed out over them. When no window of `minWindow` bytes is free,
 * the read gets a fresh buffer.
 *
 * Invariant: no unread byte lies in [tail, limit), the window offered next.
 */
export class ReadArena {
  readonly #arena: Buffer;
  readonly #minWindow: number;
  readonly #maxWindow: number;
  #tail = 0;
  #limit: number;

  /**
   * `bytes` of arena; a read is offered at most `maxWindow` bytes, so one read
   * never takes the whole arena, and never less than `minWindow`.
   */
  constructor({ bytes, minWindow, maxWindow }: { bytes: number; minWindow: number; maxWindow: number }) {
    this.#arena = Buffer.allocUnsafeSlow(bytes);
    this.#minWindow = minWindow;
    this.#maxWindow = maxWindow;
    this.#limit = bytes;
  }

  /** The buffer the next read fills. */
  window(): Buffer {
    if (this.#limit - this.#tail < this.#minWindow) return Buffer.allocUnsafe(this.#maxWindow);
    return this.#arena.subarray(this.#tail, Math.min(this.#limit, this.#tail + this.#maxWindow));
  }

  /**
   * A read put `bytes` at the start of `window` (the last one handed out) and
   * the socket now holds `unread` bytes, these included. Returns what was read.
   */
  filled(window: Buffer, bytes: number, unread: number): Buffer {
    const chunk = window.subarray(0, bytes);
    const inArena = window.buffer === this.#arena.buffer;
    const start = inArena ? window.byteOffset - this.#arena.byteOffset : 0;
    const end = inArena ? start + bytes : 0;
    if (unread > bytes) {
      // Older bytes are still unread somewhere before this read: only the rest of the current window stays free.
      if (inArena) this.#tail = end;
      return chunk;
    }
    // Only this read is unread: every other byte of the arena is free.
    if (this.#arena.length - end >= this.#minWindow) {
      this.#tail = end;
      this.#limit = this.#arena.length;
    } else {
      this.#tail = 0;
      this.#limit = start;
    }
    return chunk;
  }
}
