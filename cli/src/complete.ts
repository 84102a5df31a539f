import type { FileView, GroupView, JoinRequestView } from "../../core/api-types.js";
import { COMMAND_NAMES, COMMANDS } from "./commands.js";
import { quoteWord } from "./format.js";

/**
 * What the tracker last listed to this shell, for completing arguments:
 * group ids (list_groups, and groups named in commands that worked), file
 * names per group (list_files, upload_file) and users asking to join
 * (list_requests).
 */
export class KnownNames {
  readonly groups = new Set<string>();
  readonly files = new Map<string, Set<string>>();
  readonly requests = new Map<string, Set<string>>();

  /** Learns from a command that succeeded. */
  remember(command: string, args: readonly string[], result: unknown): void {
    const group = args[0];
    switch (command) {
      case "list_groups":
        this.groups.clear();
        for (const { groupId } of result as GroupView[]) this.groups.add(groupId);
        break;
      case "list_files":
        this.groups.add(group!);
        this.files.set(group!, new Set((result as FileView[]).map((file) => file.fileName)));
        break;
      case "list_requests":
        this.requests.set(group!, new Set((result as JoinRequestView[]).map((request) => request.userId)));
        break;
      case "upload_file": {
        const file = result as FileView;
        this.groups.add(file.groupId);
        this.files.set(file.groupId, (this.files.get(file.groupId) ?? new Set()).add(file.fileName));
        break;
      }
      case "create_group":
      case "join_group":
        this.groups.add(group!);
        break;
    }
  }
}

/** The word being typed at the end of a line: from the last space outside quotes (an open quote included). */
function lastWord(line: string): string {
  let start = 0;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (/\s/.test(char)) {
      start = i + 1;
    }
  }
  return line.slice(start);
}

/**
 * Tab completion for the shell (readline's completer): command names as the
 * first word or after `help`, group ids where a command takes one, file names
 * of that group, users who asked to join it. A word completed to the end gets
 * a trailing space, so the next one can be typed at once; names with spaces
 * come quoted.
 */
export function completeLine(line: string, known: KnownNames = new KnownNames()): [string[], string] {
  const partial = lastWord(line);
  const before = line.slice(0, line.length - partial.length).trim();
  const words = before === "" ? [] : before.split(/\s+/);
  const typed = partial.replace(/^["']/, "");
  const offer = (candidates: Iterable<string>, keepCase = true): [string[], string] => {
    const hits = [...new Set(candidates)].filter((name) => (keepCase ? name.startsWith(typed) : name.startsWith(typed.toLowerCase())));
    // Command names keep the case typed so far (Show_d → Show_downloads): readline only extends what it sees.
    return [hits.map((name) => `${keepCase ? quoteWord(name) : partial + name.slice(partial.length)} `), partial];
  };
  if (words.length === 0 || (words.length === 1 && words[0]!.toLowerCase() === "help")) return offer(COMMAND_NAMES, false);
  const command = COMMANDS.find((c) => c.name === words[0]!.toLowerCase());
  const param = command?.params[words.length - 1];
  const groupIndex = command ? command.params.findIndex((p) => p.kind === "groupId") : -1;
  const group = groupIndex >= 0 ? words[groupIndex + 1] : undefined;
  switch (param?.kind) {
    case "groupId":
      return offer([...known.groups, ...known.files.keys()]);
    case "fileName":
      return offer(known.files.get(group ?? "") ?? []);
    case "userId":
      return command!.name === "accept_request" || command!.name === "reject_request" ? offer(known.requests.get(group ?? "") ?? []) : [[], partial];
    default:
      return [[], partial];
  }
}
