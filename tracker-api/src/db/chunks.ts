import { TRACKER } from "../config.js";

/** Runs `query` on each chunk of `ids` (`size` at most) in turn and joins what the chunks return. */
export async function inChunks<T, R>(ids: readonly T[], query: (chunk: T[]) => Promise<R[]>, size: number = TRACKER.IDS_PER_STATEMENT): Promise<R[]> {
  const found: R[] = [];
  for (let i = 0; i < ids.length; i += size) found.push(...(await query(ids.slice(i, i + size))));
  return found;
}

/** Items cut into lists of at most `size`: one statement each, far below the driver's limit of bound values. */
export function chunks<T>(items: readonly T[], size: number = TRACKER.REGISTER_CONDITIONS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
