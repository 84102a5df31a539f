import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
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
  return hashStream([{ path, size }], onProgress, pieceSize);
}

/**
 * Hashes files as one stream, their bytes one after the other in the order
 * given (a shared folder: pieces span files), as hashFile does one file.
 * Each file must still have the size given: one that changed meanwhile is an
 * error, not a digest of other bytes.
 */
export async function hashStream(
  files: readonly { path: string; size: number }[],
  onProgress?: (bytesDone: number, size: number) => void,
  pieceSize = PIECE_SIZE,
): Promise<FileDigest> {
  const size = files.reduce((sum, file) => sum + file.size, 0);
  const whole = createHash("sha1");
  const pieceHashes: string[] = [];
  let piece = createHash("sha1");
  let inPiece = 0;
  let done = 0;
  const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
  for (const file of files) {
    const handle = await open(file.path, "r");
    try {
      let left = file.size;
      for (;;) {
        // One byte past the expected end tells a file that grew from one that did not.
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, left + 1), null);
        if (bytesRead === 0) break;
        if (bytesRead > left) throw new Error(`${file.path} changed while it was being hashed`);
        const chunk = buffer.subarray(0, bytesRead);
        left -= bytesRead;
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
        done += bytesRead;
        onProgress?.(done, size);
      }
      if (left !== 0) throw new Error(`${file.path} changed while it was being hashed`);
    } finally {
      await handle.close();
    }
  }
  if (inPiece > 0) pieceHashes.push(piece.digest("hex"));
  return { size, sha1: whole.digest("hex"), pieceSize, pieceHashes };
}
