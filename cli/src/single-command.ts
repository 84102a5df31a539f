import { Codes, ValidationError } from "../../core/errors.js";
import { stopAgent, type RemotePeerNode } from "../../peer-agent/src/control/client.js";
import { USAGE_EXIT_CODE } from "./args.js";
import { helpText, parseCommandWords, type ParsedCommand } from "./commands.js";
import { formatError } from "./format.js";

export interface SingleCommandOptions {
  /** The command's words, name first. */
  words: readonly string[];
  /** Opens the connection to the agent; called only when the command needs it. */
  connect: () => Promise<RemotePeerNode>;
  json: boolean;
  cwd: string;
  askSecret?: (prompt: string) => Promise<string>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/**
 * `client --agent IP:PORT <command> …`: runs one command against a running
 * agent and says how it went: 0 done, 1 the command failed, 2 bad arguments.
 * `help` needs no agent; `quit` has no meaning here; `stop` stops the agent.
 */
export async function runSingleCommand(options: SingleCommandOptions): Promise<number> {
  if (options.words.length === 1 && options.words[0]!.toLowerCase() === "stop") return stopCommand(options);
  let parsed: ParsedCommand;
  try {
    parsed = parseCommandWords(options.words);
  } catch (error) {
    options.stderr(`${formatError(error)}\n`);
    return USAGE_EXIT_CODE;
  }
  const { command, args } = parsed;
  if (command.name === "quit") {
    options.stderr("error: quit leaves the interactive shell; to stop a background agent use: client --agent <IP>:<PORT> stop\n");
    return USAGE_EXIT_CODE;
  }
  const print = (result: unknown, text: () => string) =>
    options.stdout(`${options.json ? JSON.stringify(result ?? null, null, 2) : text()}\n`);
  if (command.name === "help") {
    try {
      const text = helpText(args[0]);
      print(text, () => text);
      return 0;
    } catch (error) {
      options.stderr(`${formatError(error)}\n`);
      return USAGE_EXIT_CODE;
    }
  }
  let node: RemotePeerNode | undefined;
  try {
    node = await options.connect();
    const ctx = { node, cwd: options.cwd, ...(options.askSecret ? { askSecret: options.askSecret } : {}) };
    const result = await command.run(ctx, args, parsed.flags);
    print(result, () => command.render(result, args));
    return 0;
  } catch (error) {
    options.stderr(`${formatError(error)}\n`);
    // A required argument found missing only when the command ran (a password off a terminal)
    return error instanceof ValidationError && error.code === Codes.USAGE ? USAGE_EXIT_CODE : 1;
  } finally {
    await node?.close().catch(() => {});
  }
}

/** `client --agent IP:PORT stop`: see stopAgent. */
async function stopCommand(options: SingleCommandOptions): Promise<number> {
  let node: RemotePeerNode | undefined;
  try {
    node = await options.connect();
    const pid = await stopAgent(node);
    options.stdout(options.json ? `${JSON.stringify({ stopped: pid })}\n` : `stopped the agent (pid ${pid})\n`);
    return 0;
  } catch (error) {
    options.stderr(`${formatError(error)}\n`);
    return 1;
  } finally {
    await node?.close().catch(() => {});
  }
}
