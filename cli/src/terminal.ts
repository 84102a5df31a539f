import { Writable } from "node:stream";
import { createInterface, type Completer, type Interface } from "node:readline";
import { CLIENT } from "./config.js";

/**
 * The output readline draws on, passed through to the real terminal except
 * while muted, which is how a password is typed without echo.
 */
export class MutableOutput extends Writable {
  muted = false;
  readonly #target: NodeJS.WriteStream;

  constructor(target: NodeJS.WriteStream) {
    super();
    this.#target = target;
    target.on("resize", () => this.emit("resize"));
  }

  /** readline wraps lines at the terminal's width. */
  get columns(): number {
    return this.#target.columns;
  }

  get rows(): number {
    return this.#target.rows;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Written through at once, so text from readline and from the shell stay in order.
    if (!this.muted) this.#target.write(chunk);
    callback();
  }
}

export interface TerminalReadline {
  rl: Interface;
  /** Asks for a line without echoing it and keeps it out of the history. */
  askSecret(prompt: string): Promise<string>;
}

/** A readline on a terminal, with history, optional completion and hidden secret entry. */
export function createTerminalReadline(
  input: NodeJS.ReadStream,
  output: NodeJS.WriteStream,
  options: { prompt?: string; completer?: Completer; historySize?: number } = {},
): TerminalReadline {
  const mutable = new MutableOutput(output);
  const rl = createInterface({
    input,
    output: mutable,
    terminal: true,
    prompt: options.prompt ?? "",
    historySize: options.historySize ?? CLIENT.HISTORY_SIZE,
    removeHistoryDuplicates: true,
    ...(options.completer ? { completer: options.completer } : {}),
  });
  let secretPending = false;
  // readline adds the answer to a question to the history like any line; the
  // documented way to keep a password out is to take it off in this event.
  rl.on("history", (history: string[]) => {
    if (secretPending) history.shift();
  });
  const askSecret = (prompt: string) =>
    new Promise<string>((resolve) => {
      secretPending = true;
      rl.question(prompt, (answer) => {
        secretPending = false;
        mutable.muted = false;
        output.write("\n");
        resolve(answer);
      });
      mutable.muted = true;
    });
  return { rl, askSecret };
}
