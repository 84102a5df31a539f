import { randomUUID } from "node:crypto";
import { Agent, request } from "undici";
import {
  type AnnounceRequest,
  type AnnounceResult,
  type ChangePasswordRequest,
  type CreateUserRequest,
  type FileView,
  type GrantInUse,
  type GrantStatusResult,
  type GroupView,
  type JoinRequestView,
  MAX_PAGE_LIMIT,
  type LoginRequest,
  type LoginResult,
  type MemberView,
  type FolderManifest,
  type PeerList,
  type ShareFileRequest,
  type UserView,
} from "./api-types.js";
import { AppError, Codes, fromProblem, UnavailableError } from "./errors.js";
import { assertPasswordTravelsSafely, type TrackerAddress } from "./tracker-info.js";
import { rootCertificates } from "node:tls";

/**
 * The tracker client's defaults (core is shared, so they live here rather
 * than in one program's config; TrackerClientOptions overrides the first two).
 * Frozen: a value is changed here, never where it is used.
 */
export const TRACKER_CLIENT = Object.freeze({
  /** Per attempt, for connecting and for each response: a tracker slower than 3 s is taken as down and the next one is asked, so a dead tracker costs a command 3 s at most. */
  TIMEOUT_MS: 3000,
  /** A tracker that failed is skipped this long before it is preferred again: long enough not to pay its timeout on every command, short enough to return to it soon after a restart. */
  RETRY_DOWN_AFTER_MS: 5000,
  /** Connections to a tracker stay open between requests this long (an agent's heartbeat and grant checks come every few seconds). */
  KEEP_ALIVE_MS: 10_000,
});

export interface TrackerClientOptions {
  /** Per-attempt timeout for connecting and for each response. */
  timeoutMs?: number;
  /** How long a tracker that failed is skipped before it is tried again. */
  retryDownTrackerAfterMs?: number;
  /** Told when a request moves from one tracker to the next. */
  onFailover?: (event: { from: TrackerAddress; to: TrackerAddress; reason: string }) => void;
  /** PEM certificates trusted besides the system's CAs, for https trackers (a private CA: `--ca`). */
  ca?: string;
  /** Send passwords to plain-HTTP trackers off this machine too (`--insecure`). */
  insecure?: boolean;
}

interface RequestOptions {
  body?: unknown;
  /** Public routes are sent without the bearer token. */
  anonymous?: boolean;
  /** Overrides the session token (e.g. for a one-off call). */
  token?: string;
}

/** Failures that mean "this tracker cannot answer now": try the next one. */
function isTransportFailure(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code ?? "";
  return (
    code.startsWith("UND_ERR") ||
    // A certificate that does not verify: that tracker cannot be trusted now (or someone is in the way); another may be.
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) ||
    ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"].includes(code)
  );
}

/**
 * HTTP client for the trackers listed in tracker_info.txt. Requests go to the
 * first tracker that is up, in file order; on a refused connection, a timeout
 * or a 5xx the same request moves to the next one. Writes carry an
 * Idempotency-Key that stays the same across those retries, so a create that
 * reached a dying tracker is never answered with a false 409 or done twice.
 * A tracker that failed is skipped for a while, then preferred again.
 */
export class TrackerClient {
  readonly trackers: readonly TrackerAddress[];
  token: string | undefined;
  readonly #dispatcher: Agent;
  readonly #timeoutMs: number;
  readonly #retryDownAfterMs: number;
  readonly #onFailover: TrackerClientOptions["onFailover"];
  readonly #downUntil = new Map<number, number>();
  readonly #insecure: boolean;
  #lastUsed: TrackerAddress | undefined;

  constructor(trackers: readonly TrackerAddress[], options: TrackerClientOptions = {}) {
    if (trackers.length === 0) throw new Error("TrackerClient needs at least one tracker");
    this.trackers = trackers;
    this.#timeoutMs = options.timeoutMs ?? TRACKER_CLIENT.TIMEOUT_MS;
    this.#retryDownAfterMs = options.retryDownTrackerAfterMs ?? TRACKER_CLIENT.RETRY_DOWN_AFTER_MS;
    this.#onFailover = options.onFailover;
    this.#insecure = options.insecure === true;
    this.#dispatcher = new Agent({
      // Certificates are always checked: against the system's CAs, plus the given ones.
      connect: { timeout: this.#timeoutMs, ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}) },
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      keepAliveTimeout: TRACKER_CLIENT.KEEP_ALIVE_MS,
    });
  }

  /** The tracker that answered the last request. */
  get currentTracker(): TrackerAddress | undefined {
    return this.#lastUsed;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  /** Trackers in preference order: those not recently failed first, file order within. */
  #attemptOrder(): TrackerAddress[] {
    const now = Date.now();
    const up = this.trackers.filter((t) => (this.#downUntil.get(t.number) ?? 0) <= now);
    const down = this.trackers.filter((t) => (this.#downUntil.get(t.number) ?? 0) > now);
    return [...up, ...down];
  }

  async send<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json, application/problem+json" };
    const token = options.token ?? this.token;
    if (!options.anonymous && token) headers.authorization = `Bearer ${token}`;
    if (method !== "GET") headers["idempotency-key"] = randomUUID();
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    }

    const order = this.#attemptOrder();
    const failures: string[] = [];
    let previous: TrackerAddress | undefined;
    for (const tracker of order) {
      if (previous) this.#onFailover?.({ from: previous, to: tracker, reason: failures.at(-1) ?? "" });
      try {
        const response = await request(`${tracker.url}${path}`, {
          method,
          headers,
          body,
          dispatcher: this.#dispatcher,
        });
        const text = await response.body.text();
        const parsed: unknown = text === "" ? undefined : safeJson(text);
        if (response.statusCode >= 500) {
          failures.push(`tracker ${tracker.number} (${tracker.host}:${tracker.port}) answered ${response.statusCode}`);
          this.#markDown(tracker);
          previous = tracker;
          continue;
        }
        this.#downUntil.delete(tracker.number);
        this.#lastUsed = tracker;
        if (response.statusCode >= 400) throw fromProblem(response.statusCode, parsed);
        return parsed as T;
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (!isTransportFailure(error)) throw error;
        failures.push(`tracker ${tracker.number} (${tracker.host}:${tracker.port}): ${describe(error)}`);
        this.#markDown(tracker);
        previous = tracker;
      }
    }
    throw new UnavailableError(`no tracker is reachable (${failures.join("; ")})`, Codes.NO_TRACKER_REACHABLE);
  }

  #markDown(tracker: TrackerAddress): void {
    this.#downUntil.set(tracker.number, Date.now() + this.#retryDownAfterMs);
  }

  /**
   * Every item of a paged list: follows `nextCursor` from page to page, asking
   * for the largest pages. Items are in the list's order, each once (see the
   * paging rules in the API description).
   */
  async #all<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const query: string = `?limit=${MAX_PAGE_LIMIT}${cursor === null ? "" : `&cursor=${enc(cursor)}`}`;
      const page: { items: T[]; nextCursor: string | null } = await this.send("GET", `${path}${query}`);
      items.push(...page.items);
      cursor = page.nextCursor;
      // A tracker that ignores the cursor (an older version, or a broken one) must not keep us walking forever.
      if (cursor !== null && (page.items.length === 0 || seen.has(cursor))) {
        throw new AppError(502, Codes.TRACKER_BAD_ANSWER, `the tracker's pages of ${path} do not advance`);
      }
      if (cursor !== null) seen.add(cursor);
    } while (cursor !== null);
    return items;
  }

  // --- typed operations (routes as listed in core/api-types.ts) ---

  async createUser(input: CreateUserRequest): Promise<UserView> {
    assertPasswordTravelsSafely(this.trackers, this.#insecure);
    return this.send("POST", "/users", { body: input, anonymous: true });
  }

  async login(input: LoginRequest): Promise<LoginResult> {
    assertPasswordTravelsSafely(this.trackers, this.#insecure);
    const result = await this.send<LoginResult>("POST", "/sessions", { body: input, anonymous: true });
    this.token = result.token;
    return result;
  }

  /** Changes the password of the logged-in user; the tracker ends the account's other sessions. */
  async changePassword(input: ChangePasswordRequest): Promise<void> {
    assertPasswordTravelsSafely(this.trackers, this.#insecure);
    await this.send("PUT", "/users/me/password", { body: input });
  }

  async logout(): Promise<void> {
    await this.send("DELETE", "/sessions/current");
    this.token = undefined;
  }

  announce(input: AnnounceRequest): Promise<AnnounceResult> {
    return this.send("POST", "/peers/announce", { body: input });
  }

  /** Every group, all pages. */
  listGroups(): Promise<GroupView[]> {
    return this.#all("/groups");
  }

  createGroup(groupId: string): Promise<GroupView> {
    return this.send("POST", "/groups", { body: { groupId } });
  }

  /** Every member, all pages. */
  listMembers(groupId: string): Promise<MemberView[]> {
    return this.#all(`/groups/${enc(groupId)}/members`);
  }

  leaveGroup(groupId: string, userId: string): Promise<void> {
    return this.send("DELETE", `/groups/${enc(groupId)}/members/${enc(userId)}`);
  }

  requestJoin(groupId: string): Promise<JoinRequestView> {
    return this.send("POST", `/groups/${enc(groupId)}/join-requests`);
  }

  /** Every pending request, all pages. */
  listJoinRequests(groupId: string): Promise<JoinRequestView[]> {
    return this.#all(`/groups/${enc(groupId)}/join-requests`);
  }

  acceptJoin(groupId: string, userId: string): Promise<MemberView> {
    return this.send("POST", `/groups/${enc(groupId)}/join-requests/${enc(userId)}/accept`);
  }

  rejectJoin(groupId: string, userId: string): Promise<void> {
    return this.send("POST", `/groups/${enc(groupId)}/join-requests/${enc(userId)}/reject`);
  }

  /** Every file of the group, all pages. */
  listFiles(groupId: string): Promise<FileView[]> {
    return this.#all(`/groups/${enc(groupId)}/files`);
  }

  shareFile(groupId: string, input: ShareFileRequest): Promise<FileView> {
    return this.send("POST", `/groups/${enc(groupId)}/files`, { body: input });
  }

  stopSharing(groupId: string, fileName: string): Promise<void> {
    return this.send("DELETE", `/groups/${enc(groupId)}/files/${enc(fileName)}/holders/me`);
  }

  getPeers(groupId: string, fileName: string): Promise<PeerList> {
    return this.send("GET", `/groups/${enc(groupId)}/files/${enc(fileName)}/peers`);
  }

  /** A shared folder's files in stream order (NOT_A_FOLDER for a plain file). */
  getManifest(groupId: string, fileName: string): Promise<FolderManifest> {
    return this.send("GET", `/groups/${enc(groupId)}/files/${enc(fileName)}/manifest`);
  }

  /** Whether grants this agent serves still stand (see GrantsController.status). */
  async grantStatus(grants: GrantInUse[]): Promise<boolean[]> {
    return (await this.send<GrantStatusResult>("POST", "/grants/status", { body: { grants } })).valid;
  }

  /**
   * The grant-signing public keys of every reachable tracker, merged: a grant
   * from any tracker verifies. Unreachable trackers are skipped.
   */
  async allJwks(): Promise<{ keys: Record<string, unknown>[] }> {
    const sets = await Promise.allSettled(
      this.trackers.map(async (tracker) => {
        const response = await request(`${tracker.url}/.well-known/jwks.json`, { dispatcher: this.#dispatcher });
        if (response.statusCode !== 200) {
          await response.body.dump();
          return [];
        }
        const body = (await response.body.json()) as { keys?: Record<string, unknown>[] };
        return Array.isArray(body.keys) ? body.keys : [];
      }),
    );
    const keys = new Map<string, Record<string, unknown>>();
    for (const set of sets) {
      if (set.status !== "fulfilled") continue;
      for (const key of set.value) keys.set(String(key.kid ?? JSON.stringify(key)), key);
    }
    return { keys: [...keys.values()] };
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e.code ? `${e.code}` : (e.message ?? String(error));
}
