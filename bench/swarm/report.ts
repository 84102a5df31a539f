/** What bench:swarm prints: markdown tables, ranges over rounds, and whether each goal was met. */

export interface Goal {
  name: string;
  /** One value per round. */
  values: number[];
  /** Met when a round's value is at most this. */
  atMost: number;
  unit?: string;
}

/** "1.02–1.10" (or one value), with `digits` decimals. */
export function range(values: readonly number[], digits = 2): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return "–";
  const [low, high] = [Math.min(...finite), Math.max(...finite)];
  return low.toFixed(digits) === high.toFixed(digits) ? low.toFixed(digits) : `${low.toFixed(digits)}–${high.toFixed(digits)}`;
}

/** "met" when every round met it, else "NOT met" with how many rounds did. */
export function verdict(goal: Goal): string {
  const met = goal.values.filter((value) => value <= goal.atMost).length;
  if (goal.values.length > 0 && met === goal.values.length) return "met";
  return `NOT met (${met} of ${goal.values.length} rounds)`;
}

export function goalLine(goal: Goal): string {
  const unit = goal.unit ?? "";
  return `goal ${goal.name} <= ${goal.atMost}${unit}: ${range(goal.values)}${unit} -> ${verdict(goal)}`;
}

export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

export const seconds = (ms: number) => (ms / 1000).toFixed(2);
export const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
/** Seconds to move `bytes` at `mbit` megabits per second. */
export const idealMs = (bytes: number, mbit: number) => ((bytes * 8) / (mbit * 1e6)) * 1000;
