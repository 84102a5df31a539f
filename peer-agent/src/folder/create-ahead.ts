import { Worker } from "node:worker_threads";
import type { ManifestEntry } from "../../../core/api-types.js";
import { FileDescriptors } from "./descriptors.js";
import { FolderLayout } from "./layout.js";
import { workerSource } from "../worker-source.js";

/**
 * What a file of a folder download is to the creator and the writer, in one
 * Int32Array over shared memory (one slot per file, then the stop flag), so
 * the two threads settle who makes a file without a message: each claims an
 * untouched file with compareExchange, and only one of them wins.
 */
export const CreateState = Object.freeze({
  /** Neither thread has claimed it. */
  UNTOUCHED: 0,
  /** The creator is creating it: the writer tries to create it too, and O_EXCL lets only one of them. */
  CREATING: 1,
  /**
   * The creator made it, empty: the writer takes its descriptor from the table (folder/descriptors.ts), or, when the
   * creator closed it, opens it by the rules for a file found there (tree-files.ts).
   */
  MADE: 2,
  /** The creator could not make it (a name already taken, as in a resumed download): left to the writer's rules. */
  FAILED: 3,
  /** The writer claimed it first: the creator leaves it alone. */
  WRITER: 4,
});

/**
 * Creates a folder download's files in a thread of its own, ahead of the
 * pieces that fill them: creating a file costs 40–200 µs of the kernel
 * (bench:folders, 10,000 files), which on the piece worker's thread held
 * every piece behind it. (Creating them through libuv's pool from the piece
 * worker got ahead in some runs and not at all in others: each creation's
 * callback waited for a turn of the worker's event loop, which is busy
 * exactly while pieces pour in.) This thread only runs synchronous calls in
 * a loop, so nothing else's loop paces it.
 *
 * Files go in the order their pieces are asked for (`requested`, from the
 * engine as it makes each request), then the rest in stream order. Each is
 * made with O_CREAT|O_EXCL|O_NOFOLLOW, so it is a new file of this download's,
 * and its descriptor left for the writer (folder/descriptors.ts); with `keep`
 * of them unclaimed, the creator waits for the writer before it makes the
 * next. A file whose descriptor is not left (an empty one; or one the writer
 * opened while it was being made) is closed, and the writer opens it under its
 * own rules (a file found in the part tree is checked whoever made it). A name
 * already taken is left to those rules. The
 * directories are made first, the same way as the writer makes them (taken
 * only if lstat says they are directories; otherwise left for the writer to
 * refuse).
 */
export class FolderCreator {
  /** Per file a CreateState, then the stop flag; given to the writer (TreeFiles) too. */
  readonly state: Int32Array;
  readonly #layout: FolderLayout;
  readonly #worker: Worker;
  readonly #exited: Promise<void>;

  /**
   * `descriptors` (folder/descriptors.ts) gets the descriptor of each file made, and the creator waits while `keep`
   * of them are unclaimed; without it, each file is closed once made.
   */
  constructor(root: string, entries: readonly ManifestEntry[], descriptors?: FileDescriptors, keep = 0) {
    this.#layout = new FolderLayout(entries);
    this.state = new Int32Array(new SharedArrayBuffer(4 * (entries.length + 1)));
    // Its descriptors are closed by the writer or the piece store: Node must not close them again when this thread ends.
    this.#worker = new Worker(creatorSource(), {
      eval: true,
      trackUnmanagedFds: false,
      workerData: {
        root,
        paths: entries.map((entry) => entry.path),
        sizes: entries.map((entry) => entry.size),
        state: this.state,
        descriptors: descriptors?.table,
        keep,
      },
    });
    // A creator that fails leaves every file it did not make to the writer, which makes it itself.
    this.#exited = new Promise((resolve) => {
      this.#worker.once("exit", () => resolve());
      this.#worker.once("error", () => undefined);
    });
  }

  /** Stream bytes [start, start + length) were asked for: their files are made next. */
  requested(start: number, length: number): void {
    const end = Math.min(start + length, this.#layout.size);
    if (length <= 0 || start >= end) return;
    this.#worker.postMessage({ first: this.#layout.fileAt(start), last: this.#layout.fileAt(end - 1) });
  }

  /** Resolves once the thread has ended: every file made (or left to the writer), or close() stopped it. */
  get done(): Promise<void> {
    return this.#exited;
  }

  /** Stops creating (a file being made is finished and closed first) and waits for the thread to end. */
  async close(): Promise<void> {
    Atomics.store(this.state, this.state.length - 1, 1);
    await this.#exited;
  }
}

/**
 * The creator's program, run as source text in its worker (as the piece
 * worker's is: nothing to locate on disk). It uses nothing from this module:
 * the state values are repeated here.
 */
function creatorMain(): void {
  const { workerData, parentPort, receiveMessageOnPort } = require("node:worker_threads") as typeof import("node:worker_threads");
  const fs = require("node:fs") as typeof import("node:fs");
  const path = require("node:path") as typeof import("node:path");
  const [UNTOUCHED, CREATING, MADE, FAILED] = [0, 1, 2, 3];
  const { root, paths, sizes, state, descriptors: table, keep } = workerData as {
    root: string; paths: string[]; sizes: number[]; state: Int32Array; descriptors?: Int32Array; keep: number;
  };
  const descriptors = table ? new WorkerFileDescriptors(table) : undefined;
  const stop = paths.length;
  // Read and write: the writer writes through the descriptor, the hashing thread reads the file back through it.
  const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

  const dirs = new Set<string>();
  for (const file of paths) {
    const parts = file.split("/");
    for (let depth = 1; depth < parts.length; depth++) dirs.add(parts.slice(0, depth).join("/"));
  }
  const refused = new Set<string>();
  for (const dir of dirs) {
    // Parents come before their children in the set; a refused parent leaves everything below it to the writer.
    const parent = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : undefined;
    if (parent !== undefined && refused.has(parent)) {
      refused.add(dir);
      continue;
    }
    const full = path.join(root, ...dir.split("/"));
    try {
      fs.mkdirSync(full);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || !fs.lstatSync(full).isDirectory()) refused.add(dir);
    }
  }

  const asked: { first: number; last: number }[] = [];
  let background = 0;
  const nextIndex = (): number => {
    for (let message = receiveMessageOnPort(parentPort!); message; message = receiveMessageOnPort(parentPort!)) asked.push(message.message);
    while (asked.length > 0) {
      const range = asked[0]!;
      if (range.first > range.last) asked.shift();
      else return range.first++;
    }
    return background < paths.length ? background++ : -1;
  };
  while (Atomics.load(state, stop) === 0) {
    // Paced by the writer (descriptors.ts); the stop flag is looked at between waits.
    if (descriptors && keep > 0 && !descriptors.roomForMade(keep, 50)) continue;
    const index = nextIndex();
    if (index < 0) break;
    if (Atomics.compareExchange(state, index, UNTOUCHED, CREATING) !== UNTOUCHED) continue;
    const file = paths[index]!;
    let made = FAILED;
    if (!file.includes("/") || !refused.has(file.slice(0, file.lastIndexOf("/")))) {
      try {
        const fd = fs.openSync(path.join(root, ...file.split("/")), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW);
        // An empty file is not written to: its descriptor would only take a place until the download's end.
        if (sizes[index] === 0 || !descriptors?.offerMade(index, fd, keep)) fs.closeSync(fd);
        made = MADE;
      } catch {
        // Taken already, or refused: the writer's rules meet it.
      }
    }
    Atomics.store(state, index, made);
  }
}

declare const WorkerFileDescriptors: typeof FileDescriptors;

function creatorSource(): string {
  return workerSource(creatorMain, { WorkerFileDescriptors: FileDescriptors });
}
