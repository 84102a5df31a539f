import { read } from "node:fs";
import type { ServerResponse } from "node:http";

/** Bytes read from disk per chunk of a response: large reads and writes cost less per byte. */
const CHUNK_BYTES = 512 * 1024;
/** Free chunk buffers kept for the next responses (4 MiB); more are left to the garbage collector. */
const MAX_FREE_BUFFERS = 8;
const freeBuffers: Buffer[] = [];

/**
 * Sends bytes [start, end] of an open file as the body of `res`, then ends
 * it. Two buffers per response, reused: one is read from disk while the
 * other is being written to the socket, and a buffer is read into again only
 * once the socket has taken its bytes. (A fresh 512 KiB buffer per read, as a
 * read stream does, made the kernel fault in every page of every GiB served
 * and V8 collect them.) The descriptor is read at explicit positions, so it
 * may be shared by concurrent responses, and stays open.
 *
 * `done` is called once, when the body was sent or the response failed.
 */
export function sendRange(fd: number, start: number, end: number, res: ServerResponse, done: () => void): void {
  const buffers: [Buffer, Buffer] = [takeBuffer(), takeBuffer()];
  const writing = [false, false];
  let next: 0 | 1 = 0;
  let position = start;
  let reading = false;
  let finished = false;

  const finish = (error?: Error) => {
    if (finished) return;
    finished = true;
    res.off("close", onClose);
    // A buffer still being written belongs to the socket; only idle ones go back.
    buffers.forEach((buffer, i) => writing[i] || giveBack(buffer));
    if (error) res.destroy(error);
    done();
  };
  const onClose = () => finish(res.writableFinished ? undefined : new Error("the connection closed"));
  res.on("close", onClose);

  const pump = () => {
    if (finished || reading) return;
    if (position > end) {
      if (!writing[0] && !writing[1]) {
        res.end();
        finish();
      }
      return;
    }
    const index = next;
    if (writing[index]) return; // its bytes are still on their way out; the write callback pumps again
    const buffer = buffers[index];
    const length = Math.min(buffer.length, end + 1 - position);
    reading = true;
    read(fd, buffer, 0, length, position, (error, bytesRead) => {
      reading = false;
      if (finished) return;
      if (error) return finish(error);
      if (bytesRead === 0) return finish(new Error("the shared file is shorter than recorded"));
      position += bytesRead;
      next = index === 0 ? 1 : 0;
      writing[index] = true;
      res.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead), (writeError) => {
        writing[index] = false;
        if (finished) return giveBack(buffer);
        if (writeError) return finish(writeError);
        pump();
      });
      pump();
    });
  };
  pump();
}

function takeBuffer(): Buffer {
  return freeBuffers.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

function giveBack(buffer: Buffer): void {
  if (freeBuffers.length < MAX_FREE_BUFFERS) freeBuffers.push(buffer);
}
