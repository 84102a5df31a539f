import { Codes, ValidationError } from "../../../core/errors.js";

/**
 * Cursor paging of the lists that grow without bound. A cursor names the last
 * item of the page before (its sort key), not a position: the next page is
 * every item after that key. So a walk through all pages never returns an item
 * twice and never skips one that stays in the list for the whole walk, however
 * the list changes in between; an item added or removed during the walk shows
 * at most once (added after the walk's position: it shows; before it: it does not).
 *
 * The cursor is opaque to clients (base64url of a small JSON array) and names
 * the list it belongs to, so one sent to another list or group is refused.
 */
export type PagedList = "groups" | "members" | "join-requests" | "files";

/** What a client asks for: at most `limit` items, after the item its cursor names (from the first without one). */
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

const CURSOR_VERSION = 1;

/** The cursor for the page after the item whose sort key is `key`, in `list` of `scope` (a group id; "" for all groups). */
export function cursorAfter(list: PagedList, scope: string, key: readonly string[]): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, list, scope, ...key]), "utf8").toString("base64url");
}

/**
 * The sort key a cursor names, or undefined for the first page. A cursor that
 * was not made by cursorAfter for this list and scope is a 400 (INVALID_CURSOR).
 */
export function keyAfter(cursor: string | undefined, list: PagedList, scope: string, keyLength: number): string[] | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const valid = Array.isArray(parsed) && parsed[0] === CURSOR_VERSION && parsed.length === 3 + keyLength &&
    parsed.slice(1).every((part) => typeof part === "string");
  if (!valid) throw new ValidationError("cursor is not one this tracker gave out; send the nextCursor of the previous page as it is", Codes.INVALID_CURSOR);
  const [, cursorList, cursorScope, ...key] = parsed as [number, string, string, ...string[]];
  if (cursorList !== list || cursorScope !== scope) {
    throw new ValidationError("cursor belongs to another list; start again without a cursor", Codes.INVALID_CURSOR);
  }
  return key;
}

/** A time in a cursor's key (as cursorAfter was given it, ISO 8601); one that is not a date was not made here. */
export function cursorTime(iso: string): Date {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) throw new ValidationError("cursor is not one this tracker gave out", Codes.INVALID_CURSOR);
  return at;
}

/**
 * A page from rows read in list order after the cursor's key, at most `limit + 1`
 * of them: the extra row only tells that there is a next page.
 */
export function pageOf<Row, Item>(
  rows: readonly Row[],
  limit: number,
  item: (row: Row) => Item,
  cursorOf: (last: Row) => string,
): { items: Item[]; nextCursor: string | null } {
  const rowsOnPage = rows.slice(0, limit);
  return {
    items: rowsOnPage.map(item),
    nextCursor: rows.length > limit ? cursorOf(rowsOnPage[rowsOnPage.length - 1]!) : null,
  };
}
