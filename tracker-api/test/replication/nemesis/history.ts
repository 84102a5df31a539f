/**
 * What happened in a nemesis run, in the order it happened: every operation a
 * client attempted with its outcome, and every fault. The checker derives what
 * must hold from it; a failing run prints it with its seed so it can be replayed.
 */

export type OpKind =
  | "createUser" | "login" | "logout" | "createGroup" | "requestJoin" | "accept"
  | "leave" | "share" | "unshare" | "peers";

/** "crashed" is no fault of the nemesis: a tracker that exited (or did not start) on its own. */
export type FaultKind = "kill" | "restart" | "freeze" | "thaw" | "wipe" | "cut" | "heal" | "crashed";

/**
 * ok: a 2xx answer (acknowledged). refused: a 4xx answer, nothing done.
 * unknown: no tracker answered, and at least one attempt may have reached one,
 * so the write may have been done (now or when a frozen tracker resumes).
 */
export type Outcome =
  | { kind: "ok"; tracker: number | undefined }
  | { kind: "refused"; status: number; code: string }
  | { kind: "unknown"; reason: string };

export interface OpRecord {
  index: number;
  /** The person (and so the client) doing it. */
  actor: string;
  kind: OpKind;
  group?: string;
  /** The user an accept admits. */
  user?: string;
  file?: string;
  /** For logins and logouts: the session's token. */
  token?: string;
  startMs: number;
  endMs?: number;
  outcome?: Outcome;
  /**
   * An attempt on a tracker that failed in a way that may have reached it (a
   * timeout, a reset, a 5xx other than 503) before another tracker answered:
   * the first tracker may still do the write later, a second time.
   */
  mayRepeatLate: boolean;
  failovers: string[];
}

export interface FaultRecord {
  atMs: number;
  kind: FaultKind;
  /** Tracker numbers: one, or two for a link. */
  targets: number[];
  detail?: string;
}

export class History {
  readonly ops: OpRecord[] = [];
  readonly faults: FaultRecord[] = [];
  readonly #started = Date.now();

  now(): number {
    return Date.now() - this.#started;
  }

  begin(actor: string, kind: OpKind, fields: Pick<OpRecord, "group" | "user" | "file" | "token"> = {}): OpRecord {
    const record: OpRecord = { index: this.ops.length, actor, kind, ...fields, startMs: this.now(), mayRepeatLate: false, failovers: [] };
    this.ops.push(record);
    return record;
  }

  end(record: OpRecord, outcome: Outcome): void {
    record.endMs = this.now();
    record.outcome = outcome;
  }

  fault(kind: FaultKind, targets: number[], detail?: string): void {
    this.faults.push({ atMs: this.now(), kind, targets, ...(detail ? { detail } : {}) });
  }

  /** Counts by kind: operations (acknowledged / all) and faults. */
  summary(): { operations: Record<string, string>; acknowledged: number; total: number; faults: Record<string, number>; refusals: Record<string, number> } {
    const operations: Record<string, string> = {};
    const counts = new Map<string, [number, number]>();
    for (const op of this.ops) {
      const [ok, all] = counts.get(op.kind) ?? [0, 0];
      counts.set(op.kind, [ok + (op.outcome?.kind === "ok" ? 1 : 0), all + 1]);
    }
    for (const [kind, [ok, all]] of [...counts].sort()) operations[kind] = `${ok}/${all}`;
    const faults: Record<string, number> = {};
    for (const fault of this.faults) faults[fault.kind] = (faults[fault.kind] ?? 0) + 1;
    // Why operations were not acknowledged, by kind and code: a workload refused everything checks nothing.
    const refusals: Record<string, number> = {};
    for (const op of this.ops) {
      const why = op.outcome?.kind === "refused" ? op.outcome.code : op.outcome?.kind === "unknown" ? "unknown" : undefined;
      if (why) refusals[`${op.kind} ${why}`] = (refusals[`${op.kind} ${why}`] ?? 0) + 1;
    }
    return {
      refusals,
      operations,
      acknowledged: this.ops.filter((op) => op.outcome?.kind === "ok").length,
      total: this.ops.length,
      faults,
    };
  }

  /** Operations and faults interleaved by time, one per line. */
  format(): string {
    const lines: [number, string][] = [];
    for (const op of this.ops) {
      const what = [op.group && `group=${op.group}`, op.user && `user=${op.user}`, op.file && `file=${op.file}`].filter(Boolean).join(" ");
      const outcome = op.outcome === undefined ? "(no answer)"
        : op.outcome.kind === "ok" ? `ok${op.outcome.tracker ? ` @t${op.outcome.tracker}` : ""}`
        : op.outcome.kind === "refused" ? `refused ${op.outcome.status} ${op.outcome.code}`
        : `unknown (${op.outcome.reason})`;
      const retried = op.failovers.length > 0 ? ` after [${op.failovers.join("; ")}]${op.mayRepeatLate ? " may-repeat-late" : ""}` : "";
      lines.push([op.startMs, `${ms(op.startMs)}-${ms(op.endMs ?? op.startMs)} #${op.index} ${op.actor} ${op.kind} ${what} -> ${outcome}${retried}`]);
    }
    for (const fault of this.faults) {
      lines.push([fault.atMs, `${ms(fault.atMs)} nemesis ${fault.kind} ${fault.targets.map((t) => `t${t}`).join("-")}${fault.detail ? ` (${fault.detail})` : ""}`]);
    }
    return lines.sort((a, b) => a[0] - b[0]).map(([, line]) => line).join("\n");
  }
}

function ms(value: number): string {
  return `${(value / 1000).toFixed(3)}s`;
}
