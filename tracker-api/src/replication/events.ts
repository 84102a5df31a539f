/**
 * Replicated events. Each one carries the state it leaves behind (not the
 * command that produced it), so a tracker applies it without re-running the
 * rules of the tracker where it happened. Times are ISO strings from the
 * origin. `groupHlc` names the incarnation of the group (the HLC of the
 * group.created that won), so events of a group that lost a creation conflict
 * can be told apart and ignored.
 */
export type DomainEvent =
  | { type: "user.created"; payload: { userId: string; passwordHash: string; createdAt: string } }
  | {
      type: "session.created";
      payload: { tokenHash: string; userId: string; userHlc: string; peerAddress: string; createdAt: string; expiresAt: string };
    }
  | { type: "session.ended"; payload: { tokenHash: string } }
  | { type: "session.seen"; payload: { tokenHash: string; lastSeenAt: string; peerAddress: string } }
  | { type: "group.created"; payload: { groupId: string; ownerId: string; createdAt: string; after: string | null } }
  | { type: "group.deleted"; payload: { groupId: string; groupHlc: string } }
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
  "user.created", "session.created", "session.ended", "session.seen", "group.created", "group.deleted",
  "group.ownerChanged", "membership.added", "membership.removed", "joinRequest.created", "joinRequest.accepted",
  "joinRequest.rejected", "file.shared", "holding.upserted", "holding.removed", "idempotency.answered",
];
