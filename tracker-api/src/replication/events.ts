/**
 * Replicated events. Each one carries the state it leaves behind (not the
 * command that produced it), so a tracker applies it without re-running the
 * rules of the tracker where it happened. Times are ISO strings from the
 * origin. `groupHlc` names the incarnation of the group (the HLC of the
 * group.created that won), so events of a group that lost a creation conflict
 * can be told apart and ignored.
 *
 * Users and groups are named by their internal ids (`userId`, `ownerId`,
 * `groupId`: made once at creation, unique across trackers, never reused);
 * the user id or group id people type is the `name` of a creation, bound to
 * the internal id by the name rules (apply-rules.ts, `boundNames`).
 */
export type DomainEvent =
  | { type: "user.created"; payload: { userId: string; name: string; passwordHash: string; createdAt: string } }
  /** The latest change wins (by HLC); the user's other sessions end by their own session.ended events. */
  | { type: "user.passwordChanged"; payload: { userId: string; passwordHash: string; changedAt: string } }
  | {
      type: "session.created";
      payload: { tokenHash: string; userId: string; userHlc: string; peerAddress: string; peerCertSha256?: string | null; createdAt: string; expiresAt: string };
    }
  | { type: "session.ended"; payload: { tokenHash: string } }
  | { type: "session.seen"; payload: { tokenHash: string; lastSeenAt: string; peerAddress: string; peerCertSha256?: string | null } }
  | {
      type: "group.created";
      /** `by`: the token hash of the session that made it (a creation made after that session ended elsewhere is void). */
      payload: { groupId: string; name: string; ownerId: string; createdAt: string; after: string | null; by?: string };
    }
  /** `name`: the name it was created under, which it gives back. */
  | { type: "group.deleted"; payload: { groupId: string; groupHlc: string; name: string } }
  | { type: "group.ownerChanged"; payload: { groupId: string; groupHlc: string; ownerId: string } }
  | { type: "membership.added"; payload: { groupId: string; groupHlc: string; userId: string; joinedAt: string } }
  | { type: "membership.removed"; payload: { groupId: string; groupHlc: string; userId: string } }
  | { type: "joinRequest.created"; payload: { groupId: string; groupHlc: string; userId: string; requestedAt: string } }
  | { type: "joinRequest.accepted"; payload: { groupId: string; groupHlc: string; userId: string } }
  | { type: "joinRequest.rejected"; payload: { groupId: string; groupHlc: string; userId: string } }
  | {
      type: "file.shared";
      payload: {
        groupId: string; groupHlc: string; fileName: string; size: number; sha1: string; pieceSize: number;
        /** JSON array of piece SHA1s, as stored. */
        pieceHashes: string; sharedAt: string; userId: string; piecesHeld: number;
        /** A shared folder: its file count and manifest (JSON, as stored). Absent for a plain file (and in events from before folders). */
        fileCount?: number; manifest?: string;
      };
    }
  | {
      type: "holding.upserted";
      payload: { groupId: string; groupHlc: string; fileName: string; userId: string; sha1: string; piecesHeld: number; updatedAt: string };
    }
  | { type: "holding.removed"; payload: { groupId: string; groupHlc: string; fileName: string; userId: string } }
  | {
      /**
       * The answer a write was given under an Idempotency-Key, delivered with
       * the write's own events, so a retry on another tracker is answered the same.
       */
      type: "idempotency.answered";
      payload: {
        scope: string; key: string; method: string; path: string; fingerprint: string;
        status: number; contentType: string; body: string; createdAt: string;
      };
    };

export type EventType = DomainEvent["type"];

/** An event as logged and shipped: where and when it happened. */
export type LoggedEvent = DomainEvent & { origin: string; seq: number; hlc: string };

type Filled = "groupHlc" | "userHlc" | "after";
type Loosen<P> = Omit<P, Filled> & Partial<Pick<P, Extract<keyof P, Filled>>>;

/** What a service hands to the outbox: the outbox fills in groupHlc, userHlc and after from its registers. */
export type NewEvent = DomainEvent extends infer E
  ? E extends { type: infer T; payload: infer P }
    ? { type: T; payload: Loosen<P> }
    : never
  : never;

export const EVENT_TYPES: readonly EventType[] = [
  "user.created", "user.passwordChanged", "session.created", "session.ended", "session.seen", "group.created", "group.deleted",
  "group.ownerChanged", "membership.added", "membership.removed", "joinRequest.created", "joinRequest.accepted",
  "joinRequest.rejected", "file.shared", "holding.upserted", "holding.removed", "idempotency.answered",
];

/** Internal ids of users and groups made from now on: a prefix and 96 random bits (`:` is in no name). */
export const newUserId = (random: string): string => `u:${random}`;
export const newGroupId = (random: string): string => `g:${random}`;

/**
 * Events logged before internal ids existed named users and groups by their
 * names. Read them as the conversion of the database did (prisma/migrations,
 * identity_names): the internal id is "u=" / "g=" + the old id, so a tracker
 * that pulls an old log back agrees with the rows converted in place.
 */
export function upgradeEvent(event: LoggedEvent): LoggedEvent {
  const p = event.payload as Record<string, unknown>;
  const legacy = (id: unknown) => typeof id === "string" && id !== "" && !id.includes(":") && !id.includes("=");
  if (!["userId", "ownerId", "groupId"].some((field) => legacy(p[field]))) return event;
  const payload: Record<string, unknown> = { ...p };
  if (legacy(p.userId)) payload.userId = `u=${String(p.userId)}`;
  if (legacy(p.ownerId)) payload.ownerId = `u=${String(p.ownerId)}`;
  if (legacy(p.groupId)) payload.groupId = `g=${String(p.groupId)}`;
  if ((event.type === "user.created" || event.type === "group.created" || event.type === "group.deleted") && typeof p.name !== "string") {
    payload.name = event.type === "user.created" ? p.userId : p.groupId;
  }
  return { ...event, payload } as LoggedEvent;
}
