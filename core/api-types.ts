/**
 * The wire contract between trackers, peer agents and the CLI.
 *
 * Tracker routes (bearer token from POST /sessions unless marked public):
 *   POST   /users                                         public  create account          -> 201 UserView
 *   POST   /sessions                                      public  log in                  -> 201 LoginResult
 *   DELETE /sessions/current                                     log out (stop sharing)   -> 204
 *   POST   /peers/announce                                       heartbeat + holdings     -> 200 AnnounceResult
 *   GET    /groups                                               list all groups (paged)  -> 200 GroupPage
 *   POST   /groups                                               create group (owner)     -> 201 GroupView
 *   GET    /groups/{groupId}/members                             members (members only)   -> 200 MemberPage
 *   DELETE /groups/{groupId}/members/{userId}                    leave (self only)        -> 204
 *   POST   /groups/{groupId}/join-requests                       request to join          -> 201 JoinRequestView
 *   GET    /groups/{groupId}/join-requests                       pending (owner only)     -> 200 JoinRequestPage
 *   POST   /groups/{groupId}/join-requests/{userId}/accept       owner only               -> 200 MemberView
 *   POST   /groups/{groupId}/join-requests/{userId}/reject       owner only               -> 204
 *   GET    /groups/{groupId}/files                               members only (paged)     -> 200 FilePage
 *   POST   /groups/{groupId}/files                               share (members only)     -> 201 new / 200 peer added, FileView
 *   DELETE /groups/{groupId}/files/{fileName}/holders/me         stop sharing             -> 204
 *   GET    /groups/{groupId}/files/{fileName}/peers              members only             -> 200 PeerList (with grant)
 *   GET    /.well-known/jwks.json                         public  grant verification keys  -> 200 Jwks
 *   GET    /health                                        public                           -> 200 HealthView
 *
 * Peer agent routes (grant from PeerList.grant as bearer token):
 *   GET       /groups/{groupId}/files/{sha1}/bitfield     -> 200 BitfieldView
 *   GET|HEAD  /groups/{groupId}/files/{sha1}              -> 206 bytes (Range) | 200 whole file if all pieces held
 *
 * Lists that grow without bound (groups, members, join requests, files) are
 * paged: `?limit=` (1–1000, default 200) and `?cursor=` (the previous page's
 * `nextCursor`); the body is `{ items, nextCursor }`, `nextCursor` null on the
 * last page.
 *
 * Errors everywhere are RFC 9457 application/problem+json (see core/errors.ts).
 */

/** 512 KiB: the unit of hashing, verification and sharing. */
export const PIECE_SIZE = 512 * 1024;

/**
 * A user id or group id: 1–64 letters, digits, `.`, `_` or `-`, and not `.` or
 * `..`, possibly followed by `~2`, `~3`, … when the same id was created on two
 * trackers during a network partition and this one was renamed (see NewIdentifier).
 * @pattern ^(?!\.{1,2}(~|$))[A-Za-z0-9._-]{1,64}(~[0-9]{1,9})?$
 * @example "alice"
 */
export type Identifier = string;

/**
 * A user id or group id as chosen at creation: 1–64 letters, digits, `.`, `_`
 * or `-`, and not `.` or `..` (never a `~`, which only a rename after a
 * conflict adds).
 * @pattern ^(?!\.{1,2}$)[A-Za-z0-9._-]{1,64}$
 * @example "alice"
 */
export type NewIdentifier = string;

/**
 * A lowercase hexadecimal SHA1 digest.
 * @pattern ^[0-9a-f]{40}$
 * @example "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
 */
export type Sha1Hex = string;

/**
 * A peer agent's listening address, `ip:port`.
 * @pattern ^[0-9A-Za-z.:\[\]-]{1,80}:[0-9]{1,5}$
 * @example "127.0.0.1:7001"
 */
export type PeerAddress = string;

/**
 * SHA-256 of a peer agent's TLS certificate (DER), lowercase hex: downloaders
 * accept the agent only if the certificate it presents hashes to this.
 * @pattern ^[0-9a-f]{64}$
 * @example "3b1f0c5e9d2a7c4b8e6f1a0d3c5b7e9f2a4c6e8b0d1f3a5c7e9b2d4f6a8c0e1f"
 */
export type CertFingerprint = string;

/** Items per page when the client does not say (≈ 30 KB of files): small enough to be cheap to serve and read, large enough that most groups fit on one page. */
export const DEFAULT_PAGE_LIMIT = 200;
/** The most items a client may ask for in one page (≈ 150 KB of files). */
export const MAX_PAGE_LIMIT = 1000;

/** What every page of a paged list ends with. */
export interface PageCursor {
  /**
   * Send it back as `cursor` for the next page; null on the last page. Opaque:
   * it names the last item of this page (not a position) and is valid only for this list.
   * @example "WzEsImZpbGVzIiwibW92aWVzIiwiaG9saWRheS5tcDQiXQ"
   */
  nextCursor: string | null;
}

/** @example {"userId": "alice", "password": "correct horse battery staple"} */
export interface CreateUserRequest {
  userId: NewIdentifier;
  /**
   * @minLength 1
   * @maxLength 256
   * @example "correct horse battery staple"
   */
  password: string;
}

/** @example {"currentPassword": "correct horse battery staple", "newPassword": "a longer horse battery staple"} */
export interface ChangePasswordRequest {
  /**
   * @minLength 1
   * @maxLength 256
   */
  currentPassword: string;
  /**
   * @minLength 1
   * @maxLength 256
   */
  newPassword: string;
}

/** One grant an agent is serving, as the grant names it. */
export interface GrantInUse {
  /** The grant's `sub`. @example "bob" */
  userId: string;
  /** The grant's `grp`. @example "movies" */
  groupId: string;
  /** The grant's `sid`. @example "Zp1v0Wm6cQm7m3Xl3h7o1A" */
  sessionId: string;
}

/** @example {"grants": [{"userId": "bob", "groupId": "movies", "sessionId": "Zp1v0Wm6cQm7m3Xl3h7o1A"}]} */
export interface GrantStatusRequest {
  /** @maxItems 200 */
  grants: GrantInUse[];
}

/** @example {"valid": [true]} */
export interface GrantStatusResult {
  /** One per grant asked about, in order: whether its session is live and its user still a member of its group. */
  valid: boolean[];
}

/** @example {"userId": "alice", "createdAt": "2026-11-25T10:00:00.000Z"} */
export interface UserView {
  userId: Identifier;
  /** @example "2026-11-25T10:00:00.000Z" */
  createdAt: string;
}

/** @example {"userId": "alice", "password": "correct horse battery staple", "peerAddress": "127.0.0.1:7001"} */
export interface LoginRequest {
  userId: Identifier;
  /**
   * @minLength 1
   * @maxLength 256
   * @example "correct horse battery staple"
   */
  password: string;
  /** Where this user's peer agent serves pieces. */
  peerAddress: PeerAddress;
  /** The agent's TLS certificate fingerprint; absent for an agent serving plain HTTP. */
  peerCertSha256?: CertFingerprint;
}

/**
 * @example {"token": "3q2-9xJ0mX0c4kHcQe3wq3b6w0n8n4Jr2cP9d1oQy5E", "userId": "alice", "peerAddress": "127.0.0.1:7001", "expiresAt": "2026-11-26T10:00:00.000Z"}
 */
export interface LoginResult {
  /** Bearer token for every other call. @example "tk_3q2-9xJ0..." */
  token: string;
  /** The user id now: `name~2` when the one logged in with was renamed after a conflict (see notices). */
  userId: Identifier;
  peerAddress: PeerAddress;
  /** @example "2026-11-26T10:00:00.000Z" */
  expiresAt: string;
  /**
   * What the user must be told, one line each: their user id or one of their
   * groups was created on two trackers during a network partition and theirs
   * was renamed, keeping all of its data. Empty almost always.
   */
  notices?: string[];
}

/**
 * The session's user as of now, and what they must be told (see LoginResult.notices).
 * @example {"userId": "alice~2", "notices": ["user id \"alice\" was also created on another tracker during a network partition and went to that account; yours is now \"alice~2\", with all its groups and files: log in as \"alice~2\""]}
 */
export interface CurrentSession {
  userId: Identifier;
  notices: string[];
}

/** Response header carrying a notice (see LoginResult.notices) on every answer to a renamed user. */
export const NOTICE_HEADER = "P2P-Notice";

/** @example {"groupId": "movies", "owner": "alice", "memberCount": 3, "createdAt": "2026-11-25T10:00:00.000Z"} */
export interface GroupView {
  groupId: Identifier;
  owner: Identifier;
  /** @isInt @example 3 */
  memberCount: number;
  /** @example "2026-11-25T10:00:00.000Z" */
  createdAt: string;
}

/**
 * One page of groups, by group id.
 * @example {"items": [{"groupId": "movies", "owner": "alice", "memberCount": 3, "createdAt": "2026-11-25T10:00:00.000Z"}], "nextCursor": null}
 */
export interface GroupPage extends PageCursor {
  items: GroupView[];
}

/** @example {"groupId": "movies"} */
export interface CreateGroupRequest {
  groupId: NewIdentifier;
}

/** @example {"userId": "bob", "isOwner": false, "joinedAt": "2026-11-25T10:05:00.000Z"} */
export interface MemberView {
  userId: Identifier;
  isOwner: boolean;
  /** @example "2026-11-25T10:00:00.000Z" */
  joinedAt: string;
}

/** @example {"groupId": "movies", "userId": "bob", "requestedAt": "2026-11-25T10:00:00.000Z"} */
export interface JoinRequestView {
  groupId: Identifier;
  userId: Identifier;
  /** @example "2026-11-25T10:00:00.000Z" */
  requestedAt: string;
}

/**
 * One page of members, in the order they joined (the order in which ownership passes on).
 * @example {"items": [{"userId": "alice", "isOwner": true, "joinedAt": "2026-11-25T10:00:00.000Z"}, {"userId": "bob", "isOwner": false, "joinedAt": "2026-11-25T10:05:00.000Z"}], "nextCursor": null}
 */
export interface MemberPage extends PageCursor {
  items: MemberView[];
}

/**
 * One page of pending join requests, oldest first.
 * @example {"items": [{"groupId": "movies", "userId": "bob", "requestedAt": "2026-11-25T10:00:00.000Z"}], "nextCursor": null}
 */
export interface JoinRequestPage extends PageCursor {
  items: JoinRequestView[];
}

/**
 * A base file name: no `/`, `\`; not `.` or `..`; at most 250 bytes in UTF-8 (so that
 * `<name>.part` fits a filesystem's 255 bytes); no control characters (C0, C1, DEL) nor
 * bidirectional formatting characters (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069).
 * @minLength 1
 * @maxLength 255
 * @example "holiday-video.mp4"
 */
export type FileName = string;

/**
 * @example {"fileName": "holiday.mp4", "size": 1048576, "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "pieceSize": 524288, "pieceHashes": ["a9993e364706816aba3e25717850c26c9cd0d89d", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"]}
 */
export interface ShareFileRequest {
  fileName: FileName;
  /** Size in bytes. @isInt @minimum 0 @maximum 1099511627776 @example 1048576 */
  size: number;
  sha1: Sha1Hex;
  /** Always 524288 (512 KiB). @isInt @example 524288 */
  pieceSize: number;
  /** SHA1 of every piece in order; length is ceil(size / pieceSize) (0 for an empty file). */
  pieceHashes: Sha1Hex[];
  /**
   * Present when the shared item is a folder (`fileName` is the folder's name): its files in the
   * order their bytes follow each other in the one stream that `size`, `sha1` and the pieces describe.
   */
  manifest?: ManifestEntry[];
}

/**
 * One file of a shared folder. `path` is relative to the folder, `/`-separated; each component is a
 * safe base name (see FileName) and the whole path at most 4000 bytes in UTF-8.
 * @example {"path": "week-1/slides.pdf", "size": 48213}
 */
export interface ManifestEntry {
  /** @minLength 1 @maxLength 4000 */
  path: string;
  /** Size in bytes. @isInt @minimum 0 @maximum 1099511627776 */
  size: number;
}

/**
 * A shared folder's files, in stream order (see ShareFileRequest.manifest).
 * @example {"groupId": "course", "fileName": "materials", "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "files": [{"path": "notes.txt", "size": 1200}, {"path": "week-1/slides.pdf", "size": 48213}]}
 */
export interface FolderManifest {
  groupId: Identifier;
  fileName: FileName;
  sha1: Sha1Hex;
  files: ManifestEntry[];
}

/**
 * @example {"groupId": "movies", "fileName": "holiday.mp4", "size": 1048576, "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "pieceCount": 2, "peersOnline": 1, "sharedBy": ["alice", "bob"]}
 */
export interface FileView {
  groupId: Identifier;
  fileName: FileName;
  /** @isInt */
  size: number;
  sha1: Sha1Hex;
  /** @isInt */
  pieceCount: number;
  /** Peers currently online holding the whole file or part of it. @isInt */
  peersOnline: number;
  /** Users who hold it (online or not). */
  sharedBy: Identifier[];
  /** How many files a shared folder holds; absent for a plain file. @isInt */
  fileCount?: number;
}

/**
 * One page of a group's files, by file name.
 * @example {"items": [{"groupId": "movies", "fileName": "holiday.mp4", "size": 1048576, "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "pieceCount": 2, "peersOnline": 1, "sharedBy": ["alice", "bob"]}], "nextCursor": "WzEsImZpbGVzIiwibW92aWVzIiwiaG9saWRheS5tcDQiXQ"}
 */
export interface FilePage extends PageCursor {
  items: FileView[];
}

/**
 * @example {"groupId": "movies", "fileName": "holiday.mp4", "size": 1048576, "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "pieceSize": 524288, "pieceHashes": ["a9993e364706816aba3e25717850c26c9cd0d89d", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"]}
 */
export interface FileMetadata {
  groupId: Identifier;
  fileName: FileName;
  /** @isInt */
  size: number;
  sha1: Sha1Hex;
  /** @isInt */
  pieceSize: number;
  pieceHashes: Sha1Hex[];
  /** How many files a shared folder holds (its manifest is at …/files/{fileName}/manifest); absent for a plain file. @isInt */
  fileCount?: number;
}

/** @example {"userId": "bob", "address": "192.168.1.20:7001", "piecesHeld": 1, "complete": false} */
export interface PeerView {
  userId: Identifier;
  address: PeerAddress;
  /** The fingerprint its agent registered: reach it over TLS and accept only this certificate. Absent: plain HTTP. */
  certSha256?: CertFingerprint;
  /** Number of verified pieces this peer holds. @isInt */
  piecesHeld: number;
  complete: boolean;
}

/**
 * @example {"file": {"groupId": "movies", "fileName": "holiday.mp4", "size": 1048576, "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "pieceSize": 524288, "pieceHashes": ["a9993e364706816aba3e25717850c26c9cd0d89d", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"]}, "peers": [{"userId": "alice", "address": "192.168.1.10:7001", "piecesHeld": 2, "complete": true}], "grant": "eyJhbGciOiJFZERTQSIsImtpZCI6InRyYWNrZXItMSJ9.eyJzdWIiOiJib2IiLCJncnAiOiJtb3ZpZXMifQ.c2lnbmF0dXJl", "grantExpiresAt": "2026-11-25T10:10:00.000Z"}
 */
export interface PeerList {
  file: FileMetadata;
  /** Online peers holding the file or part of it, excluding the caller. */
  peers: PeerView[];
  /**
   * Short-lived Ed25519-signed JWT (EdDSA) naming the caller, group and file;
   * present it to peer agents as `Authorization: Bearer <grant>`.
   */
  grant: string;
  /** @example "2026-11-25T10:10:00.000Z" */
  grantExpiresAt: string;
}

/** @example {"groupId": "movies", "fileName": "holiday.mp4", "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "piecesHeld": 1} */
export interface HoldingReport {
  groupId: Identifier;
  fileName: FileName;
  sha1: Sha1Hex;
  /** @isInt @minimum 0 */
  piecesHeld: number;
}

/**
 * @example {"peerAddress": "127.0.0.1:7001", "holdings": [{"groupId": "movies", "fileName": "holiday.mp4", "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "piecesHeld": 1}]}
 */
export interface AnnounceRequest {
  /** Current peer address (may change between logins). */
  peerAddress?: PeerAddress;
  /** The agent's TLS certificate fingerprint now (a new key pair re-registers here). */
  peerCertSha256?: CertFingerprint;
  /** Files this peer holds fully or partly. Holdings not listed are left as they are. */
  holdings: HoldingReport[];
}

/** @example {"intervalSeconds": 15, "rejected": [{"groupId": "movies", "fileName": "old.iso", "code": "NOT_MEMBER"}]} */
export interface AnnounceResult {
  /** Seconds until the next heartbeat is due. @isInt */
  intervalSeconds: number;
  /** Reports that were refused (e.g. not a member any more), with the reason code. */
  rejected: { groupId: Identifier; fileName: FileName; code: string }[];
}

/**
 * Replication towards one other tracker, as this tracker sees it.
 * @example {"trackerId": "tracker-2", "url": "http://127.0.0.1:6002", "reachable": true, "lastContactAt": "2026-11-25T10:00:00.000Z", "behind": 0, "unacknowledged": 0}
 */
export interface PeerTrackerHealth {
  trackerId: string;
  url: string;
  /** Whether the last delivery or pull to it succeeded. */
  reachable: boolean;
  /** @example "2026-11-25T10:00:00.000Z" */
  lastContactAt: string | null;
  /** Events it had at last contact that this tracker has not applied yet. @isInt */
  behind: number;
  /** Events of this tracker it has not acknowledged yet. @isInt */
  unacknowledged: number;
  /** Why the last attempt failed, while it is unreachable. */
  lastError?: string;
}

/**
 * `catching-up` while a starting tracker pulls the events it missed from the others.
 * @example {"status": "ok", "trackerId": "tracker-1", "time": "2026-11-25T10:00:00.000Z", "digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "peers": [{"trackerId": "tracker-2", "url": "http://127.0.0.1:6002", "reachable": true, "lastContactAt": "2026-11-25T10:00:00.000Z", "behind": 0, "unacknowledged": 0}]}
 */
export interface HealthView {
  /**
   * `ok`; `catching-up` until the first pull from every reachable tracker is done; `recovering` while a tracker
   * on a new database pulls back what it had (it refuses writes with 503 meanwhile); `diverged` when a tracker
   * that applied exactly the same events holds another state (`peers[].behind` is the lag).
   */
  status: "ok" | "catching-up" | "recovering" | "diverged";
  trackerId: string;
  /** @example "2026-11-25T10:00:00.000Z" */
  time: string;
  /**
   * SHA-256 of this tracker's canonical state: equal on trackers that are in sync. Kept in the background;
   * absent while none describes the current state (events were applied since it was computed): ask again shortly.
   */
  digest?: string;
  /** The other trackers of tracker_info.txt. */
  peers?: PeerTrackerHealth[];
}

/** Claims carried by a download grant (JWT, alg EdDSA). */
export interface GrantClaims {
  /** The downloading user. */
  sub: string;
  /** Group id. */
  grp: string;
  /** SHA1 of the whole file. */
  sha1: string;
  /** File name in the group. */
  file: string;
  /** Issuing tracker id. */
  iss: string;
  exp: number;
  iat: number;
  /** The session the grant was given to (grantSessionId); it is refused once that session ends. */
  sid?: string;
}

export interface BitfieldView {
  sha1: Sha1Hex;
  /** @isInt */
  pieceCount: number;
  /** @isInt */
  piecesHeld: number;
  /** base64 of a bitfield, most significant bit first: bit i set = piece i verified and served. */
  bitfield: string;
}
