/** A fixed-size set of piece indexes, most significant bit first (BitTorrent order). */
export class Bitfield {
  readonly size: number;
  readonly bytes: Uint8Array;
  #count: number;

  constructor(size: number, bytes?: Uint8Array) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`invalid bitfield size ${size}`);
    this.size = size;
    const length = Math.ceil(size / 8);
    if (bytes && bytes.length !== length) {
      throw new RangeError(`bitfield of ${size} pieces needs ${length} bytes, got ${bytes.length}`);
    }
    this.bytes = bytes ? Uint8Array.from(bytes) : new Uint8Array(length);
    // Bits past `size` in the last byte must be clear, or counts would lie.
    const spare = length * 8 - size;
    if (spare > 0 && length > 0) this.bytes[length - 1]! &= (0xff << spare) & 0xff;
    this.#count = 0;
    for (let i = 0; i < size; i++) if (this.has(i)) this.#count++;
  }

  static full(size: number): Bitfield {
    const field = new Bitfield(size);
    for (let i = 0; i < size; i++) field.set(i);
    return field;
  }

  static fromBase64(size: number, encoded: string): Bitfield {
    return new Bitfield(size, Buffer.from(encoded, "base64"));
  }

  has(index: number): boolean {
    if (index < 0 || index >= this.size) return false;
    return (this.bytes[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }

  set(index: number): void {
    if (index < 0 || index >= this.size) throw new RangeError(`piece ${index} outside 0..${this.size - 1}`);
    if (this.has(index)) return;
    this.bytes[index >> 3]! |= 0x80 >> (index & 7);
    this.#count++;
  }

  clear(index: number): void {
    if (!this.has(index)) return;
    this.bytes[index >> 3]! &= ~(0x80 >> (index & 7)) & 0xff;
    this.#count--;
  }

  get count(): number {
    return this.#count;
  }

  get complete(): boolean {
    return this.#count === this.size;
  }

  /** Indexes of the pieces that are not set. */
  missing(): number[] {
    const result: number[] = [];
    for (let i = 0; i < this.size; i++) if (!this.has(i)) result.push(i);
    return result;
  }

  toBase64(): string {
    return Buffer.from(this.bytes).toString("base64");
  }
}
