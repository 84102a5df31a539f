import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { readTrackerInfo, type TrackerAddress } from "../../core/tracker-info.js";
import { defaultStateDir, parseListenAddress } from "../../peer-agent/src/config.js";

/** `client <IP>:<PORT> <tracker_info.txt>`: run a peer node here and open the shell. */
export interface ShellArgs {
  mode: "shell";
  host: string;
  port: number;
  trackerInfoPath: string;
  stateDir: string;
  json: boolean;
  /** --ca: PEM file of a CA trusted for https trackers besides the system's. */
  caPath?: string;
  /** --insecure: passwords may go to plain-HTTP trackers off this machine. */
  insecure: boolean;
}

/** `client --agent <IP>:<PORT> <command> [args…]`: one command against a running agent. */
export interface AgentArgs {
  mode: "agent";
  host: string;
  port: number;
  /** Given by --state-dir or P2P_STATE_DIR; otherwise the agent is looked up by its address. */
  stateDir?: string;
  json: boolean;
  /** The command's words, name first, exactly as given. */
  command: string[];
}

export type ClientArgs = ShellArgs | AgentArgs;

/** Bad command-line arguments exit with this code (errors of a command with 1). */
export const USAGE_EXIT_CODE = 2;

export interface ParseOptions {
  /** Relative --state-dir and tracker_info paths are taken from here. */
  cwd?: string;
  /** P2P_STATE_DIR sets the default state directory, as for peer-agent. */
  env?: NodeJS.ProcessEnv;
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
}

function buildProgram(output: ParseOptions): Command {
  return new Command("client")
    .description(
      "Group-based peer-to-peer file sharing.\n\n" +
        "client <IP>:<PORT> <tracker_info.txt> serves pieces on IP:PORT and opens a shell: prompt, history and tab completion on a terminal; one command per line from a pipe.\n\n" +
        "client --agent <IP>:<PORT> <command> [args...] runs one command against a running peer-agent, found by its address from any folder, and exits 0 when it succeeded, 1 when it failed, 2 for bad arguments; client --agent <IP>:<PORT> stop stops it.\n\n" +
        "From a pipe the shell exits 1 when any command (or download) failed.",
    )
    .usage("<IP>:<PORT> <tracker_info.txt> [options]\n       client --agent <IP>:<PORT> [options] <command> [args...]")
    .argument("[words...]", "IP:PORT and tracker_info.txt, or with --agent the command and its arguments")
    .option("--agent <IP:PORT>", "send one command to the peer-agent listening on IP:PORT")
    .option(
      "--state-dir <dir>",
      "where the client's shares and downloads are kept (default: env P2P_STATE_DIR, else ./.p2p/peer-<IP>-<PORT> if it exists, else $XDG_STATE_HOME or ~/.local/state, /p2p-group-share/peer-<IP>-<PORT>)",
    )
    .option("--json", "print results as JSON instead of text")
    .option("--ca <file>", "PEM certificate(s) of a CA trusted for https:// trackers, besides the system's")
    .option("--insecure", "send passwords to trackers listed as plain ip:port even when they are not on this machine (anyone on the path reads them)")
    .addHelpText("after", "\nRun `help` inside the shell (or `client --agent IP:PORT help`) for the commands.")
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption("-h, --help", "show this help")
    .showHelpAfterError("(client --help explains the arguments)")
    .exitOverride()
    .configureOutput({
      writeOut: output.writeOut ?? ((text) => process.stdout.write(text)),
      writeErr: output.writeErr ?? ((text) => process.stderr.write(text)),
    });
}

/**
 * Reads the client's command line. Bad arguments are printed as one `error:`
 * line and a usage hint, then thrown as a CommanderError whose exitCode is 2;
 * `--help` is thrown with exitCode 0 after printing the help.
 */
export function parseClientArgs(argv: readonly string[], options: ParseOptions = {}): ClientArgs {
  const cwd = options.cwd ?? process.cwd();
  const program = buildProgram(options);
  const fail = (message: string): never =>
    program.error(`error: ${message}`, { exitCode: USAGE_EXIT_CODE, code: "client.badArguments" });
  try {
    program.parse([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode !== 0 && error.exitCode !== USAGE_EXIT_CODE) {
      throw new CommanderError(USAGE_EXIT_CODE, error.code, error.message);
    }
    throw error;
  }
  const opts = program.opts<{ agent?: string; stateDir?: string; json?: boolean; ca?: string; insecure?: boolean }>();
  const words = program.args;
  const address = (text: string) => {
    try {
      return parseListenAddress(text);
    } catch (error) {
      return fail((error as Error).message);
    }
  };
  const env = options.env ?? process.env;
  const explicitStateDir = opts.stateDir ?? env.P2P_STATE_DIR;

  if (opts.agent !== undefined) {
    const { host, port } = address(opts.agent);
    if (port === 0) fail("the agent's port cannot be 0; give the port it listens on");
    if (words.length === 0) fail("missing the command to send to the agent, e.g. client --agent 127.0.0.1:7001 list_groups");
    return {
      mode: "agent",
      host,
      port,
      ...(explicitStateDir !== undefined ? { stateDir: resolve(cwd, explicitStateDir) } : {}),
      json: opts.json === true,
      command: words,
    };
  }

  const unknownOption = words.find((word) => word.startsWith("-"));
  if (unknownOption !== undefined) fail(`unknown option '${unknownOption}'`);
  if (words.length === 0) fail("missing <IP>:<PORT> to serve pieces on and <tracker_info.txt>");
  if (words.length === 1) fail("missing <tracker_info.txt>, the file that lists the trackers");
  if (words.length > 2) {
    fail(`too many arguments ("${words.slice(2).join(" ")}"); to send a command to a running agent use --agent <IP>:<PORT>`);
  }
  const { host, port } = address(words[0]!);
  return {
    mode: "shell",
    host,
    port,
    trackerInfoPath: resolve(cwd, words[1]!),
    // The same default as peer-agent's, so that the shell's state is the agent's.
    stateDir: explicitStateDir !== undefined ? resolve(cwd, explicitStateDir) : defaultStateDir({ host, port }, env, cwd),
    json: opts.json === true,
    ...(opts.ca !== undefined ? { caPath: resolve(cwd, opts.ca) } : {}),
    insecure: opts.insecure === true,
  };
}

/** Reads tracker_info.txt with the shared parser; its errors name the file and line. */
export async function loadTrackers(args: ShellArgs): Promise<TrackerAddress[]> {
  return readTrackerInfo(args.trackerInfoPath);
}
