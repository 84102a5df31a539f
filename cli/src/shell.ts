import { clearLine, createInterface, cursorTo, type Interface } from "node:readline";
import type { DownloadInfo, PeerNodeApi } from "../../peer-agent/src/node-api.js";
import { COMMAND_NAMES, parseCommandLine, type CommandContext } from "./commands.js";
import { formatDownloadEnd, formatError } from "./format.js";
import { createTerminalReadline } from "./terminal.js";
import { createUploadProgress } from "./upload-progress.js";

export interface ShellOptions {
  node: PeerNodeApi;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /**
   * On a terminal: prompt, history, tab completion, passwords asked without
   * echo, progress bars. Otherwise (a pipe) commands are read one per line
   * and only their output is written.
   */
  interactive: boolean;
  /** Print results as JSON instead of text. */
  json?: boolean;
  /** Relative paths in commands are taken from here. */
  cwd?: string;
}

/** Why the shell ended: `quit` (or Ctrl-D/Ctrl-C on a terminal), the end of piped input, or stop(). */
export type ShellEnd = "quit" | "end-of-input" | "stopped";

/** Completes command names, the first word of a line or the word after `help`. */
export function completeCommand(line: string): [string[], string] {
  const words = line.trimStart().split(/\s+/);
  const partial = words[words.length - 1] ?? "";
  const completingName = words.length === 1 || (words.length === 2 && words[0]!.toLowerCase() === "help");
  if (!completingName) return [[], partial];
  // Hits keep the case typed so far (Show_d → Show_downloads): readline only extends what it sees.
  const hits = COMMAND_NAMES.filter((name) => name.startsWith(partial.toLowerCase()));
  return [hits.map((name) => partial + name.slice(partial.length)), partial];
}

/**
 * The interactive shell over a peer node. Commands run one at a time, in the
 * order given; downloads run in the background and their end is printed as a
 * notice. At the end of piped input the shell waits for running downloads,
 * then logs out if logged in; `quit` ends at once.
 */
export class Shell {
  readonly #node: PeerNodeApi;
  readonly #input: NodeJS.ReadableStream;
  readonly #output: NodeJS.WritableStream;
  readonly #interactive: boolean;
  readonly #json: boolean;
  readonly #cwd: string;
  readonly #watched = new Map<string, Promise<void>>();
  #rl: Interface | undefined;
  #askSecret: ((prompt: string) => Promise<string>) | undefined;
  #userId: string | undefined;
  #busy = false;
  #stopped = false;
  #resolveStopped: () => void = () => {};
  readonly #stoppedSignal = new Promise<void>((resolve) => (this.#resolveStopped = resolve));

  constructor(options: ShellOptions) {
    this.#node = options.node;
    this.#input = options.input;
    this.#output = options.output;
    this.#interactive = options.interactive;
    this.#json = options.json ?? false;
    this.#cwd = options.cwd ?? process.cwd();
  }

  /**
   * Prints a notice from the node (a tracker failover, a share dropped)
   * without breaking what is being typed; with --json as `{"notice": …}`.
   */
  notice(line: string): void {
    this.#announce(this.#json ? JSON.stringify({ notice: line }) : line);
  }

  /** Prints text that did not come from a command, then redraws the prompt and the typed line. */
  #announce(text: string): void {
    this.#print(text);
    if (this.#interactive && this.#rl && !this.#busy && !this.#stopped) this.#rl.prompt(true);
  }

  /** Ends the shell now (a signal): run() resolves with "stopped", nothing is waited for. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#rl?.close();
    this.#resolveStopped();
  }

  async run(): Promise<ShellEnd> {
    const ended = await this.#unlessStopped(this.#loop());
    if (ended === "end-of-input") await this.#unlessStopped(this.#finish());
    this.#rl?.close();
    return this.#stopped ? "stopped" : (ended ?? "stopped");
  }

  /** What the work gives, or undefined as soon as stop() is called. */
  #unlessStopped<T>(work: Promise<T>): Promise<T | undefined> {
    return Promise.race([work, this.#stoppedSignal.then(() => undefined)]);
  }

  async #loop(): Promise<ShellEnd> {
    try {
      this.#userId = (await this.#node.status()).userId;
    } catch {
      this.#userId = undefined;
    }
    const rl = this.#openReadline();
    // Take lines from now on: lines read before an iterator exists would be lost.
    const lines = rl[Symbol.asyncIterator]();
    await this.#watchRunningDownloads();
    if (this.#interactive) {
      this.#output.write("type help for the commands, quit to leave\n");
      rl.setPrompt(this.#prompt());
      rl.prompt();
    }
    for await (const line of { [Symbol.asyncIterator]: () => lines }) {
      if (this.#stopped) return "stopped";
      this.#busy = true;
      const quit = await this.#execute(line);
      this.#busy = false;
      if (this.#stopped) return "stopped";
      if (quit) return "quit";
      if (this.#interactive) {
        rl.setPrompt(this.#prompt());
        rl.prompt();
      }
    }
    // Ctrl-D on a terminal means leave now; the end of a pipe means finish the work.
    if (this.#interactive) {
      this.#output.write("\n");
      return "quit";
    }
    return "end-of-input";
  }

  #openReadline(): Interface {
    if (this.#interactive) {
      const terminal = createTerminalReadline(this.#input as NodeJS.ReadStream, this.#output as NodeJS.WriteStream, {
        completer: completeCommand,
      });
      this.#askSecret = terminal.askSecret;
      terminal.rl.on("SIGINT", () => {
        // Ctrl-C clears what was typed; on an empty line it leaves, like quit.
        if (terminal.rl.line !== "") {
          terminal.rl.write(null, { ctrl: true, name: "e" });
          terminal.rl.write(null, { ctrl: true, name: "u" });
          this.#output.write("^C\n");
          terminal.rl.prompt();
        } else {
          this.#output.write("\n");
          this.stop();
        }
      });
      this.#rl = terminal.rl;
    } else {
      this.#rl = createInterface({ input: this.#input, terminal: false, crlfDelay: Infinity });
    }
    return this.#rl;
  }

  #prompt(): string {
    return this.#userId ? `${this.#userId}@p2p> ` : "p2p> ";
  }

  #context(): CommandContext {
    return {
      node: this.#node,
      cwd: this.#cwd,
      ...(this.#askSecret ? { askSecret: this.#askSecret } : {}),
      ...(this.#interactive ? { uploadProgress: () => createUploadProgress(this.#output as NodeJS.WriteStream) } : {}),
      onDownloadStarted: (download) => this.#watch(download),
      onSession: (userId, outcome) => {
        this.#userId = userId;
        if (outcome && outcome.resumed > 0) void this.#watchRunningDownloads();
      },
    };
  }

  /** Runs one line; true when it was `quit`. */
  async #execute(line: string): Promise<boolean> {
    try {
      const parsed = parseCommandLine(line);
      if (!parsed) return false;
      if (parsed.command.name === "quit") return true;
      const result = await parsed.command.run(this.#context(), parsed.args, parsed.flags);
      const text = this.#json ? JSON.stringify(result ?? null) : parsed.command.render(result, parsed.args);
      if (text !== "") this.#print(text);
    } catch (error) {
      this.#print(formatError(error));
    }
    return false;
  }

  /**
   * Writes a command's output. On a terminal, text typed ahead while the
   * command ran is wiped from the screen first; the next prompt shows it again.
   */
  #print(text: string): void {
    if (this.#interactive) {
      clearLine(this.#output, 0);
      cursorTo(this.#output, 0);
    }
    this.#output.write(`${text}\n`);
  }

  /** Reports the end of a download once, when it comes. */
  #watch(download: DownloadInfo): void {
    if (download.state !== "downloading" || this.#watched.has(download.id)) return;
    const ended = this.#node.waitForDownload(download.id).then(
      (final) => this.#announce(this.#json ? JSON.stringify(final) : formatDownloadEnd(final)),
      (error: unknown) => {
        if (!this.#stopped) this.#announce(formatError(error));
      },
    );
    this.#watched.set(download.id, ended.finally(() => this.#watched.delete(download.id)));
  }

  async #watchRunningDownloads(): Promise<void> {
    try {
      for (const download of await this.#node.listDownloads()) this.#watch(download);
    } catch {
      // not logged in, or the node cannot say: nothing to watch
    }
  }

  /** End of piped input: let running downloads finish, then log out. */
  async #finish(): Promise<void> {
    await this.#watchRunningDownloads();
    while (this.#watched.size > 0) await Promise.all(this.#watched.values());
    try {
      if ((await this.#node.status()).userId !== undefined) {
        await this.#node.logout();
        this.#userId = undefined;
        this.#print(this.#json ? "null" : "logged out");
      }
    } catch (error) {
      this.#print(formatError(error));
    }
  }
}
