import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { PIECE_SIZE } from "./api-types.js";

export { PIECE_SIZE };

/** Bytes read per chunk when a file is hashed for sharing: large reads cost less per byte, and one buffer is all the memory hashing takes. */
export const HASH_READ_BYTES = 1024 * 1024;

export function pieceCount(size: number, pieceSize = PIECE_SIZE): number {
  return Math.ceil(size / pieceSize);
}

/** Byte offsets [start, end) of piece `index` in a file of `size` bytes. */
export function pieceBounds(index: number, size: number, pieceSize = PIECE_SIZE): { start: number; end: number } {
  const start = index * pieceSize;
  return { start, end: Math.min(start + pieceSize, size) };
}

export function sha1Hex(data: Uint8Array): string {
  return createHash("sha1").update(data).digest("hex");
}

export interface FileDigest {
  size: number;
  sha1: string;
  pieceSize: number;
  pieceHashes: string[];
}

/**
 * Streams a file once, computing the SHA1 of the whole file and of every
 * piece. Memory stays at one read buffer whatever the file size.
 * `onProgress(bytesDone, size)` is called as bytes are hashed.
 */
export async function hashFile(
  path: string,
  onProgress?: (bytesDone: number, size: number) => void,
  pieceSize = PIECE_SIZE,
): Promise<FileDigest> {
  const { size } = await stat(path);
  const whole = createHash("sha1");
  const pieceHashes: string[] = [];
  let piece = createHash("sha1");
  let inPiece = 0;
  let done = 0;
  const stream = createReadStream(path, { highWaterMark: HASH_READ_BYTES });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    whole.update(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(pieceSize - inPiece, chunk.length - offset);
      piece.update(chunk.subarray(offset, offset + take));
      inPiece += take;
      offset += take;
      if (inPiece === pieceSize) {
        pieceHashes.push(piece.digest("hex"));
        piece = createHash("sha1");
        inPiece = 0;
      }
    }
    done += chunk.length;
    onProgress?.(done, size);
  }
  if (inPiece > 0) pieceHashes.push(piece.digest("hex"));
  if (done !== size) throw new Error(`${path} changed while it was being hashed`);
  return { size, sha1: whole.digest("hex"), pieceSize, pieceHashes };
}
