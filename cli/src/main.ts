import { CommanderError } from "commander";
import { AppError, Codes, UnavailableError } from "../../core/errors.js";
import { explainListenError } from "../../peer-agent/src/listen-error.js";
import { connectToAgent } from "../../peer-agent/src/control/client.js";
import { assertStateDirFree } from "../../peer-agent/src/control/control-file.js";
import { startControlServer } from "../../peer-agent/src/control/server.js";
import { startPeerNode } from "../../peer-agent/src/peer-node.js";
import { readCaFile, type TrackerAddress } from "../../core/tracker-info.js";
import { loadTrackers, parseClientArgs, USAGE_EXIT_CODE, type AgentArgs, type ShellArgs } from "./args.js";
import { formatError } from "./format.js";
import { Shell } from "./shell.js";
import { runSingleCommand } from "./single-command.js";
import { createTerminalReadline } from "./terminal.js";
import { CLIENT } from "./config.js";

/** Piped input in which a command (or a download) failed exits with this code. */
const PIPE_FAILED_EXIT_CODE = 1;

function exitAfterClose(close: () => Promise<void>, code: number): void {
  const timer = setTimeout(() => process.exit(code), CLIENT.CLOSE_TIMEOUT_MS);
  timer.unref();
  close().then(
    () => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${formatError(error)}\n`);
      process.exit(code);
    },
  );
}

async function runShell(args: ShellArgs): Promise<void> {
  let trackers: TrackerAddress[];
  let trackerCa: string | undefined;
  try {
    trackers = await loadTrackers(args);
    trackerCa = args.caPath === undefined ? undefined : await readCaFile(args.caPath);
  } catch (error) {
    process.stderr.write(`${formatError(error)}\n`);
    return process.exit(USAGE_EXIT_CODE);
  }
  // Notices can come while the node starts, before there is a shell to show them.
  let notice: (line: string) => void = (line) => process.stdout.write(`${line}\n`);
  const address = `${args.host}:${args.port}`;
  await assertStateDirFree(args.stateDir);
  const node = await startPeerNode({
    host: args.host,
    port: args.port,
    trackers,
    stateDir: args.stateDir,
    ...(trackerCa !== undefined ? { trackerCa } : {}),
    insecure: args.insecure,
    onNotice: (line) => notice(line),
  }).catch((error: unknown) => {
    throw explainListenError(error, address);
  });
  // The shell's node is also reachable with `client --agent`, and holds the state directory against a second agent.
  // `client --agent ADDR stop` ends this shell as quit would.
  const control = await startControlServer(node, args.stateDir, node.peerAddress, { onStop: () => shell.stop() });
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const shell: Shell = new Shell({ node, input: process.stdin, output: process.stdout, interactive, json: args.json });
  notice = (line) => shell.notice(line);
  const onSignal = () => {
    // a second signal while closing leaves at once
    process.once("SIGINT", () => process.exit(130));
    shell.stop();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  await shell.run();
  // A script reading the exit code learns whether every piped command succeeded.
  exitAfterClose(async () => {
    await control.close();
    await node.close();
  }, !interactive && shell.failures > 0 ? PIPE_FAILED_EXIT_CODE : 0);
}

async function runAgentCommand(args: AgentArgs): Promise<void> {
  const address = `${args.host}:${args.port}`;
  const stdin = process.stdin;
  const askSecret = stdin.isTTY
    ? async (prompt: string) => {
        // the prompt goes to stderr so that stdout stays clean for --json
        const terminal = createTerminalReadline(stdin, process.stderr, { historySize: 0 });
        try {
          return await terminal.askSecret(prompt);
        } finally {
          terminal.rl.close();
        }
      }
    : undefined;
  const code = await runSingleCommand({
    words: args.command,
    json: args.json,
    cwd: process.cwd(),
    ...(askSecret ? { askSecret } : {}),
    connect: () =>
      connectToAgent({ host: args.host, port: args.port, ...(args.stateDir !== undefined ? { stateDir: args.stateDir } : {}) }).catch((error: unknown) => {
        if (error instanceof AppError) throw error;
        throw new UnavailableError(
          `no peer-agent answers at ${address} (${(error as Error).message}); start one with: peer-agent ${address} tracker_info.txt`,
          Codes.AGENT_UNREACHABLE,
        );
      }),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
  process.exit(code);
}

async function main(): Promise<void> {
  const args = parseClientArgs(process.argv.slice(2));
  if (args.mode === "agent") await runAgentCommand(args);
  else await runShell(args);
}

main().catch((error: unknown) => {
  // commander has already printed its error line and the usage hint (or the help)
  if (error instanceof CommanderError) process.exit(error.exitCode);
  process.stderr.write(`${formatError(error)}\n`);
  process.exit(1);
});
