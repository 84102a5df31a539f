import type { TrackerDb } from "../db/open.js";
import { filesChanged, forgetFileLists } from "../services/file-lists.js";
import { forgetSessions } from "../services/sessions.js";
import type { Touched } from "./store.js";

/** Tells the services' in-memory caches what events applied from other trackers changed. */
export function forgetCachedState(db: TrackerDb, touched: Touched): void {
  for (const groupId of touched.groups) filesChanged(db, groupId);
  if (touched.renamed) forgetFileLists(db);
  if (touched.endedSessions.size > 0 || touched.usersSignedOut.size > 0 || touched.renamed) {
    forgetSessions(db, touched.endedSessions, touched.usersSignedOut, touched.renamed);
  }
}
