/** CPU time of processes and their children, from /proc (Linux): what the bench reports when the machine's cores are the limit. */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

function stat(pid: number): { ppid: number; cpuSeconds: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** `root` and every process below it, now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (s) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/** CPU seconds used so far by each of `pids` (0 for one that is gone). */
export function cpuSeconds(pids: number[]): Map<number, number> {
  return new Map(pids.map((pid) => [pid, stat(pid)?.cpuSeconds ?? 0]));
}

/** The program a process runs ("node", "esbuild", "postgres", …). */
export function programOf(pid: number): string {
  try {
    const first = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
    return first.slice(first.lastIndexOf("/") + 1);
  } catch {
    return "";
  }
}
