import { read } from "node:fs";
import type { ServerResponse } from "node:http";
import type { RateLimiter } from "../rate-limiter.js";
import { AGENT } from "../config.js";

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
 * `mayPump`, asked before each chunk, holds the stream while another one
 * has the turn (upload-slots.ts). `limiter`, asked before each read, holds
 * it while the agent's upload limit is used up, and then reads smaller
 * chunks so the limit stays smooth. `readAt` is fs.read; tests pass one whose
 * reads finish when they say.
 */
export function sendRange(
  fd: number,
  start: number,
  end: number,
  res: ServerResponse,
  done: () => void,
  { mayPump, limiter, readAt = read }: { mayPump?: () => Promise<void> | undefined; limiter?: RateLimiter; readAt?: ReadAt } = {},
): void {
  const buffers: [Buffer, Buffer] = [takeBuffer(), takeBuffer()];
  // A buffer being read into or written from is not ours to give back until that ends.
  const busy: [Use, Use] = ["idle", "idle"];
  let next: 0 | 1 = 0;
  let position = start;
  let finished = false;
  let waitingForRate = false;

  const release = (index: 0 | 1) => {
    busy[index] = "idle";
    if (finished) giveBack(buffers[index]);
  };
  const finish = (error?: Error) => {
    if (finished) return;
    finished = true;
    res.off("close", onClose);
    buffers.forEach((buffer, index) => busy[index] === "idle" && giveBack(buffer));
    if (error) res.destroy(error);
    done();
  };
  const onClose = () => finish(res.writableFinished ? undefined : new Error("the connection closed"));
  res.on("close", onClose);

  const pump = () => {
    if (finished || waitingForRate || busy.includes("reading")) return;
    if (position > end) {
      if (busy[0] === "idle" && busy[1] === "idle") {
        res.end();
        finish();
      }
      return;
    }
    const index = next;
    if (busy[index] !== "idle") return; // its bytes are still on their way out; the write callback pumps again
    const held = mayPump?.();
    if (held) {
      void held.then(pump);
      return;
    }
    const buffer = buffers[index];
    const length = Math.min(limiter ? limiter.chunkBytes(buffer.length) : buffer.length, end + 1 - position);
    const wait = limiter?.delayFor(length) ?? 0;
    if (wait > 0) {
      waitingForRate = true;
      setTimeout(() => {
        waitingForRate = false;
        pump();
      }, Math.min(wait, AGENT.RATE_WAIT_MAX_MS));
      return;
    }
    busy[index] = "reading";
    readAt(fd, buffer, 0, length, position, (error, bytesRead) => {
      if (finished) return release(index);
      if (error || bytesRead === 0) {
        release(index);
        return finish(error ?? new Error("the shared file is shorter than recorded"));
      }
      position += bytesRead;
      next = index === 0 ? 1 : 0;
      busy[index] = "writing";
      res.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead), (writeError) => {
        release(index);
        if (finished) return;
        if (writeError) return finish(writeError);
        pump();
      });
      pump();
    });
  };
  pump();
}

type Use = "idle" | "reading" | "writing";

export type ReadAt = (
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
  callback: (error: NodeJS.ErrnoException | null, bytesRead: number) => void,
) => void;

function takeBuffer(): Buffer {
  return freeBuffers.pop() ?? Buffer.allocUnsafeSlow(AGENT.SEND_CHUNK_BYTES);
}

function giveBack(buffer: Buffer): void {
  if (freeBuffers.length < AGENT.MAX_FREE_SEND_BUFFERS) freeBuffers.push(buffer);
}
