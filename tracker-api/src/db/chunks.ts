/**
 * The SQLite bundled here refuses a statement with more than 999 bound
 * values, and Prisma binds one per element of an `in` list: a user who owns
 * a thousand groups made every `GET /groups?limit=1000` fail with 500. Lists
 * of ids go to the database in chunks of this many, whatever their length.
 */
export const IDS_PER_STATEMENT = 500;

/** Runs `query` on each chunk of `ids` in turn and joins what the chunks return. */
export async function inChunks<T, R>(ids: readonly T[], query: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const found: R[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_STATEMENT) found.push(...(await query(ids.slice(i, i + IDS_PER_STATEMENT))));
  return found;
}
