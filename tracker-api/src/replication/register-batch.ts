/**
 * The one writer of the rows that events decide: turns the pure decisions of
 * apply-rules.ts into registers and tracker rows.
 *
 * Events are applied in batches (RegisterBatch): the registers a batch touches
 * are read in a few queries, merged in memory event by event, written back in
 * bulk, and each affected row is rebuilt once per batch. The hot statements are
 * plain portable SQL (SQLite and PostgreSQL: multi-row INSERT ... ON CONFLICT,
 * no SQLite-only syntax); the rare rebuild of a whole group uses the Prisma
 * query API.
 */
import { chunks, inChunks } from "../db/chunks.js";
import { DeferredWrites } from "../db/deferred-writes.js";
import type { Tx } from "../db/open.js";
import { Prisma } from "../generated/prisma/client.js";
import {
  boundNames, currentPasswordHash, passwordKey, fileState, groupNameKey, groupState, holdingAfterRemovals, lastRemoval, memberKey, mergeRegister, registerWrites,
  requestState, sessionGroupKey, sessionKey, sessionLives, userNameKey, voidCreations, type RegisterWrite,
  type Register, type RegisterKey, type RegisterKind,
} from "./apply-rules.js";
import { writeAnswersSql } from "./event-log.js";
import type { LoggedEvent } from "./events.js";
import { materializeGroup } from "./rebuild.js";
import { toRegister, type Row } from "./registers.js";
import { TRACKER } from "../config.js";


/** What applying events changed, for the in-memory caches to forget. */
export interface Touched {
  groups: Set<string>;
  /** Sessions that ended (by token hash), or users whose sessions all ended. */
  endedSessions: Set<string>;
  usersSignedOut: Set<string>;
  /** Users or groups whose name changed (a name conflict, or a deleted group giving its name back). */
  renamed: boolean;
}

export const nothingTouched = (): Touched => ({ groups: new Set(), endedSessions: new Set(), usersSignedOut: new Set(), renamed: false });

const SEP = "\u0000";
const keyString = (k: RegisterKey) => [k.kind, k.groupId, k.incarnation, k.fileName, k.userId].join(SEP);
const groupKey = (groupId: string): RegisterKey => ({ kind: "group", groupId, incarnation: "", fileName: "", userId: "" });
const userKey = (userId: string): RegisterKey => ({ kind: "user", groupId: "", incarnation: "", fileName: "", userId });
/** Scopes read whole: every owner/member register of a group incarnation, and the file and holding registers of one file. */
const membersScope = (groupId: string, incarnation: string) => ["members", groupId, incarnation].join(SEP);
const fileScope = (groupId: string, incarnation: string, fileName: string) => ["file", groupId, incarnation, fileName].join(SEP);
/** Every group creation of one session (sessionGroup registers), read whole when the session ends. */
const sessionGroupsScope = (tokenHash: string) => ["sessionGroups", tokenHash].join(SEP);
const scopeOf = (k: RegisterKey): string | undefined =>
  k.kind === "owner" || k.kind === "member" ? membersScope(k.groupId, k.incarnation)
    : k.kind === "file" || k.kind === "holding" ? fileScope(k.groupId, k.incarnation, k.fileName) : undefined;


const or = (conditions: Prisma.Sql[]) => Prisma.join(conditions, " OR ");

type SessionOp =
  | { op: "event"; event: LoggedEvent & { type: `session.${string}` }; stands: boolean }
  /** The user id's winning creation changed: sessions of another account under that id end. */
  | { op: "recheck"; userId: string; replaced: boolean };

/**
 * The registers touched by a batch of events, read once, merged in memory in
 * event order (the pure rules of apply-rules.ts), and written back once with
 * the rows they decide. This is the one writer of the rows that events
 * decide: events made here and events from other trackers go through it alike.
 */
export class RegisterBatch {
  readonly #registers = new Map<string, Register>();
  /** Keys read (present or absent), and scopes read whole. */
  readonly #read = new Set<string>();
  readonly #inDatabase = new Set<string>();
  /** Keys that had a register before this batch. */
  readonly #existedBefore = new Set<string>();
  readonly #dirty = new Set<string>();
  /** Keys changed by this batch (written or not yet). */
  readonly #changed = new Set<string>();
  readonly #users = new Set<string>();
  /** Name registers changed by this batch (keys). */
  readonly #names = new Set<string>();
  readonly #groups = new Set<string>();
  /** Groups created on this tracker in this batch (a fresh id: nothing can have arrived under it before). */
  readonly #createdHere = new Set<string>();
  /** The name each group created in this batch asked for. */
  readonly #askedNames = new Map<string, string>();
  /** Users and groups whose new row was inserted with the name the rules bind to it (#writeNames skips them). */
  readonly #namedAtInsert = new Set<string>();
  readonly #members = new Map<string, { groupId: string; incarnation: string }>();
  readonly #requests = new Map<string, { groupId: string; incarnation: string; userId: string }>();
  readonly #files = new Map<string, { groupId: string; incarnation: string; fileName: string }>();
  /** Groups whose file lists change (how much a holder has is not part of a list; a holder coming or going is). */
  readonly #listsChanged = new Set<string>();
  readonly #sessions: SessionOp[] = [];
  readonly #answers: (LoggedEvent & { type: "idempotency.answered" })["payload"][] = [];

  constructor(
    /** PostgreSQL: the rows' writes that need not see each other go in one statement (DeferredWrites). */
    private readonly writesTogether = false,
  ) {}

  /** The register under a key read before (undefined when there is none). */
  get(key: RegisterKey): Register | undefined {
    const k = keyString(key);
    const scope = key.kind === "sessionGroup" && this.#read.has(sessionGroupsScope(key.groupId)) ? sessionGroupsScope(key.groupId) : scopeOf(key);
    if (!this.#read.has(k) && (scope === undefined || !this.#read.has(scope))) throw new Error(`register ${k} was not read`);
    return this.#registers.get(k);
  }

  group(groupId: string): Register | undefined {
    return this.get(groupKey(groupId));
  }

  user(userId: string): Register | undefined {
    return this.get(userKey(userId));
  }

  /**
   * Reads, in one query, what a service's events (before their incarnations
   * are filled in) need: the group and user registers they name, and the
   * registers of the file or members they touch under the group's current
   * incarnation. `read` afterwards finds them read. With `latestHlc`, the
   * same query also reads the latest HLC of the whole log, and returns it.
   */
  async readKeys(tx: Tx, events: readonly { type: string; payload: object }[], options: { latestHlc?: boolean } = {}): Promise<string | null> {
    const keys: RegisterKey[] = [];
    const current: { groupId: string; fileName?: string; userId?: string }[] = [];
    const removals: { groupId: string; userId: string }[] = [];
    for (const { type, payload } of events) {
      const p = payload as { groupId?: string; userId?: string; fileName?: string };
      if ((type === "user.created" || type === "session.created") && typeof p.userId === "string") keys.push(userKey(p.userId));
      if ((type === "user.created" || type === "user.passwordChanged") && typeof p.userId === "string") keys.push(userKey(p.userId), passwordKey(p.userId));
      const name = (p as { name?: string }).name;
      if (type === "user.created" && typeof name === "string") keys.push(userNameKey(name));
      if ((type === "group.created" || type === "group.deleted") && typeof name === "string") keys.push(groupNameKey(name));
      const by = (p as { by?: string }).by;
      if (type === "group.created" && typeof by === "string") keys.push(sessionKey(by), sessionGroupKey(by, String(p.groupId)));
      if (type === "session.created" || type === "session.ended") keys.push(sessionKey(String((p as { tokenHash?: string }).tokenHash)));
      if (typeof p.groupId !== "string") continue;
      keys.push(groupKey(p.groupId));
      if (type === "group.ownerChanged" || type.startsWith("membership.")) current.push({ groupId: p.groupId });
      // A holding needs its holder's membership too (holdingAfterRemovals).
      else if (typeof p.fileName === "string") current.push({ groupId: p.groupId, fileName: p.fileName, userId: p.userId });
      if (type === "membership.removed" && typeof p.userId === "string") removals.push({ groupId: p.groupId, userId: p.userId });
    }
    const incarnation = (groupId: string) => Prisma.sql`(SELECT g."hlc" FROM "Register" g
      WHERE g."kind" = 'group' AND g."groupId" = ${groupId} AND g."incarnation" = '' AND g."fileName" = '' AND g."userId" = '')`;
    const latestHlc = await this.#load(tx, keys, [], current.flatMap((c) => c.fileName === undefined
      ? [Prisma.sql`("groupId" = ${c.groupId} AND "incarnation" = ${incarnation(c.groupId)} AND "kind" IN ('owner', 'member'))`]
      : [
        Prisma.sql`("groupId" = ${c.groupId} AND "incarnation" = ${incarnation(c.groupId)} AND "fileName" = ${c.fileName} AND "kind" IN ('file', 'holding'))`,
        ...(c.userId === undefined ? [] : [Prisma.sql`("kind" = 'member' AND "groupId" = ${c.groupId} AND "incarnation" = ${incarnation(c.groupId)} AND "fileName" = '' AND "userId" = ${c.userId})`]),
      ]), options.latestHlc === true);
    // Those scopes, under the incarnation now known (nothing under a group that does not exist).
    const inc = (groupId: string) => this.#registers.get(keyString(groupKey(groupId)))?.hlc ?? "";
    for (const c of current) {
      this.#read.add(c.fileName === undefined ? membersScope(c.groupId, inc(c.groupId)) : fileScope(c.groupId, inc(c.groupId), c.fileName));
      if (c.fileName !== undefined && c.userId !== undefined) this.#read.add(keyString(memberKey(c.groupId, inc(c.groupId), c.userId)));
    }
    await this.#loadHoldingsOf(tx, removals.map((r) => ({ ...r, incarnation: inc(r.groupId) })));
    return latestHlc;
  }

  /**
   * Reads every file a user holds in a group incarnation, whole (holder and
   * file registers), so that a removal can end the user's holdings there
   * and rebuild those files' rows.
   */
  async #loadHoldingsOf(tx: Tx, holders: readonly { groupId: string; incarnation: string; userId: string }[]): Promise<void> {
    if (holders.length === 0) return;
    const scopes: { scope: string; groupId: string; incarnation: string; fileName: string }[] = [];
    for (const part of chunks(holders)) {
      const rows = await tx.$queryRaw<{ groupId: string; incarnation: string; fileName: string }[]>`
        SELECT "groupId", "incarnation", "fileName" FROM "Register" WHERE "kind" = 'holding' AND (${or(part.map((h) =>
          Prisma.sql`("groupId" = ${h.groupId} AND "incarnation" = ${h.incarnation} AND "userId" = ${h.userId})`))})`;
      for (const r of rows) scopes.push({ scope: fileScope(r.groupId, r.incarnation, r.fileName), ...r });
    }
    await this.#load(tx, [], scopes);
  }

  /** Notes a group incarnation created just now: no register exists under it yet. */
  created(groupId: string, incarnation: string): void {
    this.#createdHere.add(groupId);
    this.#read.add(membersScope(groupId, incarnation));
  }

  /** Reads every register the events can touch or need for their rows. */
  async read(tx: Tx, events: readonly LoggedEvent[]): Promise<void> {
    const keys: RegisterKey[] = [];
    const scopes: { scope: string; groupId: string; incarnation: string; fileName?: string }[] = [];
    for (const event of events) {
      const p = event.payload as { groupId?: string; groupHlc?: string; fileName?: string; userId?: string };
      if (event.type === "user.created" || event.type === "session.created") keys.push(userKey(String(p.userId)));
      // The row's password is the latest change, else the creation's: both registers are needed whichever arrives.
      if (event.type === "user.created" || event.type === "user.passwordChanged") keys.push(userKey(String(p.userId)), passwordKey(String(p.userId)));
      if (event.type === "user.created") keys.push(userNameKey(event.payload.name));
      if ((event.type === "group.created" || event.type === "group.deleted") && event.payload.name) keys.push(groupNameKey(event.payload.name));
      if (event.type === "group.created" && event.payload.by) keys.push(sessionKey(event.payload.by), sessionGroupKey(event.payload.by, event.payload.groupId));
      if (event.type === "session.created" || event.type === "session.ended") keys.push(sessionKey(event.payload.tokenHash));
      if (typeof p.groupId !== "string") continue;
      keys.push(groupKey(p.groupId));
      const incarnation = event.type === "group.created" ? event.hlc : String(p.groupHlc ?? "");
      if (event.type === "group.created" || event.type === "group.ownerChanged" || event.type.startsWith("membership.")) {
        scopes.push({ scope: membersScope(p.groupId, incarnation), groupId: p.groupId, incarnation });
      } else if (event.type.startsWith("joinRequest.")) {
        keys.push({ kind: "request", groupId: p.groupId, incarnation, fileName: "", userId: String(p.userId) });
      } else if (typeof p.fileName === "string") {
        scopes.push({ scope: fileScope(p.groupId, incarnation, p.fileName), groupId: p.groupId, incarnation, fileName: p.fileName });
        // Whether a holding stands depends on its holder's removals (holdingAfterRemovals).
        if (typeof p.userId === "string") keys.push(memberKey(p.groupId, incarnation, p.userId));
      }
    }
    // An end may void groups its session created (voidCreations): every creation of the session, read by key prefix.
    const ended = events.flatMap((e) => (e.type === "session.ended" ? [e.payload.tokenHash] : []));
    await this.#load(tx, keys, scopes, ended.map((t) => Prisma.sql`("kind" = 'sessionGroup' AND "groupId" = ${t})`));
    for (const t of ended) this.#read.add(sessionGroupsScope(t));
    await this.#loadHoldingsOf(tx, events.flatMap((e) => (e.type === "membership.removed" ? [{ ...e.payload, incarnation: e.payload.groupHlc }] : [])));
    // Then the group and name registers of those creations.
    const voidable: RegisterKey[] = [];
    for (const t of ended) for (const g of this.#sessionGroups(t)) voidable.push(groupKey(g.fileName), groupNameKey(String(g.value.name)));
    if (voidable.length > 0) await this.#load(tx, voidable, []);
  }

  /** The group creations of a session known in this batch (read, or written by it). */
  #sessionGroups(tokenHash: string): Register[] {
    return [...this.#registers.values()].filter((r) => r.kind === "sessionGroup" && r.groupId === tokenHash);
  }

  async #load(
    tx: Tx, keys: RegisterKey[], scopes: { scope: string; groupId: string; incarnation: string; fileName?: string }[], more: Prisma.Sql[] = [],
    /** Also read the latest HLC of the log, returned (null when not asked, or the log is empty). */
    latestHlc = false,
  ): Promise<string | null> {
    const conditions: Prisma.Sql[] = [...more];
    const seen = new Set<string>();
    for (const key of keys) {
      const k = keyString(key);
      const scope = scopeOf(key);
      if (this.#read.has(k) || (scope !== undefined && this.#read.has(scope)) || seen.has(k)) continue;
      seen.add(k);
      conditions.push(Prisma.sql`("kind" = ${key.kind} AND "groupId" = ${key.groupId} AND "incarnation" = ${key.incarnation} AND "fileName" = ${key.fileName} AND "userId" = ${key.userId})`);
    }
    for (const s of scopes) {
      if (this.#read.has(s.scope) || seen.has(s.scope)) continue;
      seen.add(s.scope);
      conditions.push(s.fileName === undefined
        ? Prisma.sql`("groupId" = ${s.groupId} AND "incarnation" = ${s.incarnation} AND "kind" IN ('owner', 'member'))`
        : Prisma.sql`("groupId" = ${s.groupId} AND "incarnation" = ${s.incarnation} AND "fileName" = ${s.fileName} AND "kind" IN ('file', 'holding'))`);
    }
    const parts = chunks(conditions);
    if (latestHlc && parts.length === 0) parts.push([]);
    let latest: string | null = null;
    for (const [i, part] of parts.entries()) {
      // The log's latest HLC rides along with the first part, as a row of kind '' (no register has one): one statement less per write.
      const log = latestHlc && i === 0
        ? Prisma.sql`SELECT '' AS "kind", '' AS "groupId", '' AS "incarnation", '' AS "fileName", '' AS "userId", MAX("hlc") AS "hlc", NULL AS "live", NULL AS "value" FROM "Event"`
        : undefined;
      const registers = part.length === 0 ? undefined
        : Prisma.sql`SELECT "kind", "groupId", "incarnation", "fileName", "userId", "hlc", "live", "value" FROM "Register" WHERE ${or(part)}`;
      const rows = await tx.$queryRaw<(Omit<Row, "live" | "hlc"> & { hlc: string | null; live: unknown })[]>(
        registers && log ? Prisma.sql`${registers} UNION ALL ${log}` : (registers ?? log!),
      );
      for (const row of rows) {
        if (row.kind === "") {
          latest = row.hlc;
          continue;
        }
        // A register's HLC is never null (only the log's row can be).
        const register = toRegister({ ...row, hlc: row.hlc!, live: Boolean(Number(row.live)) });
        const k = keyString(register);
        // A register changed in memory already is newer than the stored one.
        if (this.#registers.has(k)) continue;
        this.#registers.set(k, register);
        this.#inDatabase.add(k);
        this.#existedBefore.add(k);
      }
    }
    for (const k of seen) this.#read.add(k);
    return latest;
  }

  /** Merges one event's register writes (in memory) and notes the rows they affect. */
  apply(event: LoggedEvent): void {
    if (event.type === "idempotency.answered") {
      this.#answers.push(event.payload);
      return;
    }
    if (event.type === "session.seen") {
      this.#sessions.push({ op: "event", event, stands: true });
      return;
    }
    if (event.type === "group.created") this.#askedNames.set(event.payload.groupId, event.payload.name);
    for (const write of registerWrites(event)) {
      const { key } = write;
      this.#merge(key.kind === "holding" && write.live ? holdingAfterRemovals(write, this.get(memberKey(key.groupId, key.incarnation, key.userId))) : write);
    }
    if (event.type === "membership.removed") this.#endHoldingsBefore(memberKey(event.payload.groupId, event.payload.groupHlc, event.payload.userId));
    if (event.type === "group.created" && event.payload.by) this.#voidAfterEnd(event.payload.by, event.hlc);
    if (event.type === "session.ended") this.#voidAfterEnd(event.payload.tokenHash, event.hlc);
    if (event.type === "session.created" || event.type === "session.ended") {
      // A login stands if not ended (even by an end that came first) and made against the account holding the id.
      const stands = event.type === "session.ended" || sessionLives(this.get(sessionKey(event.payload.tokenHash)), this.user(event.payload.userId));
      this.#sessions.push({ op: "event", event, stands });
    }
  }

  /** Ends the holdings of a member written before the member's latest removal (read whole by #loadHoldingsOf). */
  #endHoldingsBefore(member: RegisterKey): void {
    const register = this.get(member);
    if (lastRemoval(register) === "") return;
    for (const h of [...this.#registers.values()]) {
      if (h.kind !== "holding" || !h.live || h.groupId !== member.groupId || h.incarnation !== member.incarnation || h.userId !== member.userId) continue;
      const write = holdingAfterRemovals({ key: h, rule: "last-writer-wins", hlc: h.hlc, live: true, value: h.value }, register);
      if (!write.live) this.#merge({ ...write, key: { kind: h.kind, groupId: h.groupId, incarnation: h.incarnation, fileName: h.fileName, userId: h.userId } });
    }
  }

  /**
   * Groups created by a session after it ended are void: deleted, their names
   * given back (the same register writes whichever of the two came first).
   */
  #voidAfterEnd(tokenHash: string, hlc: string): void {
    for (const g of voidCreations(this.get(sessionKey(tokenHash)), this.#sessionGroups(tokenHash))) {
      this.#merge({ key: groupKey(g.groupId), rule: "group-deletion", hlc, live: false, value: { groupHlc: g.hlc } });
      this.#merge({ key: groupNameKey(g.name), rule: "name", hlc, live: true, value: { claims: [], released: [g.hlc] } });
    }
  }

  /** Merges one register write in memory and notes the rows it affects. */
  #merge(write: RegisterWrite): void {
    {
      const current = this.get(write.key);
      const merged = mergeRegister(current, write);
      if (merged === undefined) return;
      const k = keyString(merged);
      this.#registers.set(k, merged);
      this.#dirty.add(k);
      this.#changed.add(k);
      const { groupId, incarnation, fileName, userId } = merged;
      switch (merged.kind) {
        case "user":
          this.#users.add(userId);
          // The creation holding this id changed: sessions of another account under it end (in event order).
          this.#sessions.push({ op: "recheck", userId, replaced: current !== undefined });
          break;
        case "password": this.#users.add(userId); break;
        case "group": this.#groups.add(groupId); break;
        case "userName":
        case "groupName": this.#names.add(k); break;
        case "owner":
        case "member": this.#members.set(membersScope(groupId, incarnation), { groupId, incarnation }); break;
        case "request": this.#requests.set(k, { groupId, incarnation, userId }); break;
        case "file":
        case "holding":
          this.#files.set(fileScope(groupId, incarnation, fileName), { groupId, incarnation, fileName });
          if (merged.kind === "file" || current?.live !== merged.live || current.value.sha1 !== merged.value.sha1) this.#listsChanged.add(groupId);
          break;
      }
    }
  }

  /** Writes the changed registers and brings the affected rows in line with them; `touched` collects what changed, for the caches. */
  async write(tx: Tx, touched: Touched): Promise<void> {
    const writes = new DeferredWrites(tx, this.writesTogether);
    await this.#writeRegisters(writes);
    for (const { groupId } of [...this.#members.values(), ...this.#requests.values()]) touched.groups.add(groupId);
    for (const groupId of [...this.#groups, ...this.#listsChanged]) touched.groups.add(groupId);
    await this.#writeUsers(writes);
    await this.#writeSessions(tx, writes, touched);
    for (const part of chunks(this.#answers, TRACKER.ANSWERS_PER_STATEMENT)) await writes.add("IdempotencyKey", writeAnswersSql(part));
    const rebuilt = new Set<string>();
    // A group first seen in this batch whose requests or files arrived before its creation
    // (from other trackers, by another path) is rebuilt whole as well.
    const early = await this.#earlyRegisters(tx, writes);
    for (const groupId of this.#groups) {
      // Rows of a group seen before this batch are rebuilt whole (a replaced creation, a deletion, a lost creation).
      if (!this.#existedBefore.has(keyString(groupKey(groupId))) && !early.has(groupId)) continue;
      rebuilt.add(groupId);
      await writes.flush();
      await materializeGroup(tx, groupId, this.group(groupId), false);
    }
    const current = <T extends { groupId: string; incarnation: string }>(items: Iterable<T>) => [...items].filter((item) => {
      if (rebuilt.has(item.groupId)) return false;
      const group = this.group(item.groupId);
      // Writes under an incarnation that is not the group's current one change no rows.
      return group?.live === true && group.hlc === item.incarnation;
    });
    await this.#writeMembers(writes, current(this.#members.values()));
    await this.#writeRequests(writes, current(this.#requests.values()));
    await this.#writeFiles(tx, writes, current(this.#files.values()));
    await this.#writeNames(tx, writes, touched);
    await writes.flush();
  }

  /**
   * Gives every user and group whose name register changed the name the
   * rules bind to it (boundNames). Rows made by this batch were written with
   * their internal id as a stand-in name. Two passes, since names move
   * between rows of the same table (the loser of a conflict leaves the name
   * to the winner) and a name is unique: the rows that change first take
   * their internal id (which no name can equal), then their new names.
   */
  async #writeNames(tx: Tx, writes: DeferredWrites, touched: Touched): Promise<void> {
    for (const table of ["User", "Group"] as const) {
      const wanted = new Map<string, string>();
      for (const k of this.#names) {
        const register = this.#registers.get(k)!;
        if (register.kind !== (table === "User" ? "userName" : "groupName")) continue;
        const names = boundNames(register.fileName, register);
        for (const [id, name] of names) if (!this.#namedAtInsert.has(id)) wanted.set(id, name);
      }
      if (wanted.size === 0) continue;
      await writes.flush();
      const moving: string[] = [];
      const current = new Map<string, string>();
      for (const part of chunks([...wanted.keys()])) {
        const rows = await tx.$queryRaw<{ id: string; name: string }[]>`
          SELECT "id", "name" FROM ${Prisma.raw(`"${table}"`)} WHERE "id" IN (${Prisma.join(part)})`;
        for (const row of rows) {
          current.set(row.id, row.name);
          if (row.name !== wanted.get(row.id)) moving.push(row.id);
        }
      }
      if (moving.length === 0) continue;
      // Rows that only had their stand-in name are new, not renamed, and need no first pass.
      const renamed = moving.filter((id) => current.get(id) !== id);
      if (renamed.length > 0) touched.renamed = true;
      for (const part of chunks(renamed)) {
        await tx.$executeRaw`UPDATE ${Prisma.raw(`"${table}"`)} SET "name" = "id" WHERE "id" IN (${Prisma.join(part)})`;
      }
      // One statement per hundred rows (a bulk catch-up names thousands of new groups).
      for (const part of chunks(moving)) {
        const cases = Prisma.join(part.map((id) => Prisma.sql`WHEN ${id} THEN ${wanted.get(id)!}`), " ");
        await tx.$executeRaw`UPDATE ${Prisma.raw(`"${table}"`)} SET "name" = CASE "id" ${cases} END WHERE "id" IN (${Prisma.join(part)})`;
      }
    }
  }

  /** Groups first seen in this batch, alive, with request or file registers under their incarnation from earlier batches. */
  async #earlyRegisters(tx: Tx, writes: DeferredWrites): Promise<Set<string>> {
    const fresh: Register[] = [];
    for (const groupId of this.#groups) {
      const group = this.group(groupId);
      if (group?.live && !this.#existedBefore.has(keyString(groupKey(groupId))) && !this.#createdHere.has(groupId)) fresh.push(group);
    }
    const early = new Set<string>();
    if (fresh.length > 0) await writes.flush();
    for (const part of chunks(fresh)) {
      const rows = await tx.$queryRaw<Pick<Row, "kind" | "groupId" | "incarnation" | "fileName" | "userId">[]>`
        SELECT "kind", "groupId", "incarnation", "fileName", "userId" FROM "Register" WHERE "kind" IN ('request', 'file')
        AND (${or(part.map((g) => Prisma.sql`("groupId" = ${g.groupId} AND "incarnation" = ${g.hlc})`))})`;
      // Registers written by this batch itself get their rows the usual way.
      for (const row of rows) if (!this.#changed.has(keyString({ ...row, kind: row.kind as RegisterKind }))) early.add(row.groupId);
    }
    return early;
  }

  async #writeRegisters(writes: DeferredWrites): Promise<void> {
    const dirty = [...this.#dirty].map((k) => this.#registers.get(k)!);
    for (const part of chunks(dirty)) {
      const values = part.map((r) => Prisma.sql`(${r.kind}, ${r.groupId}, ${r.incarnation}, ${r.fileName}, ${r.userId}, ${r.hlc}, ${r.live}, ${JSON.stringify(r.value)})`);
      await writes.add("Register", Prisma.sql`
        INSERT INTO "Register" ("kind", "groupId", "incarnation", "fileName", "userId", "hlc", "live", "value") VALUES ${Prisma.join(values)}
        ON CONFLICT ("kind", "groupId", "incarnation", "fileName", "userId")
        DO UPDATE SET "hlc" = excluded."hlc", "live" = excluded."live", "value" = excluded."value"`);
    }
    for (const k of this.#dirty) this.#inDatabase.add(k);
    this.#dirty.clear();
  }

  async #writeUsers(writes: DeferredWrites): Promise<void> {
    // A password change seen before the account's creation waits for it (the creation reads the change back).
    const users = [...this.#users].flatMap((userId) => this.user(userId) ?? []);
    for (const part of chunks(users)) {
      // The name is written by #writeNames; the internal id stands in for it until then, unless the row is new and alone under its name.
      const values = part.map((u) => Prisma.sql`(${u.userId}, ${this.#nameAtInsert(u.userId, userKey(u.userId), userNameKey(String(u.value.name)))}, ${currentPasswordHash(u, this.get(passwordKey(u.userId)))}, ${new Date(String(u.value.createdAt))})`);
      await writes.add("User", Prisma.sql`
        INSERT INTO "User" ("id", "name", "passwordHash", "createdAt") VALUES ${Prisma.join(values)}
        ON CONFLICT ("id") DO UPDATE SET "passwordHash" = excluded."passwordHash", "createdAt" = excluded."createdAt"`);
    }
  }

  /** Session changes in event order (rare next to the rest: logins, logouts, a heartbeat per session every 10 s). */
  async #writeSessions(tx: Tx, writes: DeferredWrites, touched: Touched): Promise<void> {
    // Model queries that read and write: after the writes held before them.
    if (this.#sessions.length > 0) await writes.flush();
    for (const op of this.#sessions) {
      if (op.op === "recheck") {
        const rows = await tx.session.findMany({ where: { userId: op.userId }, select: { tokenHash: true } });
        if (rows.length === 0) continue;
        const registers = new Map((await inChunks(rows.map((r) => r.tokenHash), (chunk) => tx.register.findMany({
          where: { kind: "session", groupId: "", incarnation: "", userId: "", fileName: { in: chunk } },
        }))).map((r) => [r.fileName, toRegister(r)]));
        const user = this.user(op.userId);
        // Sessions from before session registers were kept end only when another creation replaced the account (as they did).
        const stale = rows.map((r) => r.tokenHash).filter((t) => (registers.has(t) ? !sessionLives(registers.get(t), user) : op.replaced));
        if (stale.length === 0) continue;
        await inChunks(stale, async (chunk) => [await tx.session.deleteMany({ where: { tokenHash: { in: chunk } } })]);
        for (const t of stale) touched.endedSessions.add(t);
        touched.usersSignedOut.add(op.userId);
        continue;
      }
      const { event } = op;
      switch (event.type) {
        case "session.created": {
          const p = event.payload;
          if (!op.stands) continue;
          const createdAt = new Date(p.createdAt);
          await tx.session.upsert({
            where: { tokenHash: p.tokenHash },
            create: { tokenHash: p.tokenHash, userId: p.userId, peerAddress: p.peerAddress, peerCertSha256: p.peerCertSha256 ?? null, createdAt, expiresAt: new Date(p.expiresAt), lastSeenAt: createdAt },
            update: {},
          });
          break;
        }
        case "session.ended":
          await tx.session.deleteMany({ where: { tokenHash: event.payload.tokenHash } });
          touched.endedSessions.add(event.payload.tokenHash);
          break;
        case "session.seen": {
          const p = event.payload;
          const lastSeenAt = new Date(p.lastSeenAt);
          // The latest heartbeat wins, whichever tracker it reached.
          await tx.session.updateMany({ where: { tokenHash: p.tokenHash, lastSeenAt: { lt: lastSeenAt } }, data: { lastSeenAt, peerAddress: p.peerAddress, peerCertSha256: p.peerCertSha256 ?? null } });
          break;
        }
      }
    }
  }

  /**
   * The name a user or group row gets when it is inserted: the one the rules
   * bind to it when the row is new and the only claim under its name (no
   * other row can hold that name then, so no rename pass is needed), else its
   * internal id, standing in until #writeNames.
   */
  #nameAtInsert(id: string, register: RegisterKey, nameKey: RegisterKey): string {
    if (this.#existedBefore.has(keyString(register))) return id;
    const names = boundNames(nameKey.fileName, this.#registers.get(keyString(nameKey)));
    if (names.size !== 1 || !names.has(id)) return id;
    this.#namedAtInsert.add(id);
    return names.get(id)!;
  }

  /** In-memory registers of one kind under a group incarnation (and file). */
  #index(): Map<string, Register[]> {
    const index = new Map<string, Register[]>();
    for (const r of this.#registers.values()) {
      const scope = scopeOf(r);
      if (scope === undefined) continue;
      const list = index.get(scope);
      if (list) list.push(r);
      else index.set(scope, [r]);
    }
    return index;
  }

  async #writeMembers(writes: DeferredWrites, items: { groupId: string; incarnation: string }[]): Promise<void> {
    if (items.length === 0) return;
    const index = this.#index();
    const groups: Prisma.Sql[] = [];
    const members: Prisma.Sql[] = [];
    const ids: string[] = [];
    for (const { groupId, incarnation } of items) {
      const registers = index.get(membersScope(groupId, incarnation)) ?? [];
      const owner = registers.find((r) => r.kind === "owner");
      const state = groupState(this.group(groupId), owner, registers.filter((r) => r.kind === "member"));
      if (!state) continue;
      ids.push(groupId);
      const asked = this.#askedNames.get(groupId);
      const name = asked === undefined ? groupId : this.#nameAtInsert(groupId, groupKey(groupId), groupNameKey(asked));
      groups.push(Prisma.sql`(${groupId}, ${name}, ${state.group.ownerId}, ${new Date(state.group.createdAt)})`);
      for (const m of state.members) members.push(Prisma.sql`(${groupId}, ${m.userId}, ${new Date(m.joinedAt)})`);
    }
    for (const part of chunks(groups)) {
      await writes.add("Group", Prisma.sql`
        INSERT INTO "Group" ("id", "name", "ownerId", "createdAt") VALUES ${Prisma.join(part)}
        ON CONFLICT ("id") DO UPDATE SET "ownerId" = excluded."ownerId"`);
    }
    // A group first seen in this batch has no membership rows yet.
    const seenBefore = ids.filter((id) => this.#existedBefore.has(keyString(groupKey(id))));
    for (const part of chunks(seenBefore)) await writes.add("Membership", Prisma.sql`DELETE FROM "Membership" WHERE "groupId" IN (${Prisma.join(part)})`);
    for (const part of chunks(members)) {
      await writes.add("Membership", Prisma.sql`INSERT INTO "Membership" ("groupId", "userId", "joinedAt") VALUES ${Prisma.join(part)}`);
    }
  }

  async #writeRequests(writes: DeferredWrites, items: { groupId: string; incarnation: string; userId: string }[]): Promise<void> {
    const pending: Prisma.Sql[] = [];
    for (const part of chunks(items)) {
      await writes.add("JoinRequest", Prisma.sql`DELETE FROM "JoinRequest" WHERE ${or(part.map((r) => Prisma.sql`("groupId" = ${r.groupId} AND "userId" = ${r.userId})`))}`);
    }
    for (const r of items) {
      const state = requestState(this.group(r.groupId), this.get({ kind: "request", groupId: r.groupId, incarnation: r.incarnation, fileName: "", userId: r.userId }));
      if (state) pending.push(Prisma.sql`(${r.groupId}, ${r.userId}, ${new Date(state.requestedAt)})`);
    }
    for (const part of chunks(pending)) {
      await writes.add("JoinRequest", Prisma.sql`INSERT INTO "JoinRequest" ("groupId", "userId", "requestedAt") VALUES ${Prisma.join(part)}`);
    }
  }

  async #writeFiles(tx: Tx, writes: DeferredWrites, items: { groupId: string; incarnation: string; fileName: string }[]): Promise<void> {
    if (items.length === 0) return;
    const index = this.#index();
    const where = (part: typeof items) => or(part.map((f) => Prisma.sql`("groupId" = ${f.groupId} AND "fileName" = ${f.fileName})`));
    const existing = new Map<string, string>();
    // Rows follow registers: a file none of whose registers existed before this batch has no rows to read or clear (a new share).
    const seenBefore = items.filter((f) => (index.get(fileScope(f.groupId, f.incarnation, f.fileName)) ?? []).some((r) => this.#existedBefore.has(keyString(r))));
    for (const part of chunks(seenBefore)) {
      await writes.flush();
      const rows = await tx.$queryRaw<{ groupId: string; fileName: string; sha1: string }[]>`
        SELECT "groupId", "fileName", "sha1" FROM "SharedFile" WHERE ${where(part)}`;
      for (const row of rows) existing.set(`${row.groupId}${SEP}${row.fileName}`, row.sha1);
      await writes.add("Holding", Prisma.sql`DELETE FROM "Holding" WHERE ${where(part)}`);
    }
    const gone: typeof items = [];
    const files: Prisma.Sql[] = [];
    const holdings: Prisma.Sql[] = [];
    for (const item of items) {
      const { groupId, incarnation, fileName } = item;
      const registers = index.get(fileScope(groupId, incarnation, fileName)) ?? [];
      const file = registers.find((r) => r.kind === "file");
      const state = fileState(this.group(groupId), file, registers.filter((r) => r.kind === "holding"));
      const had = existing.get(`${groupId}${SEP}${fileName}`);
      if (!state) {
        if (had !== undefined) gone.push(item);
        continue;
      }
      const f = state.file;
      // Piece lists can be large: a file row is written only when it is new or its content or share changed.
      if (had === undefined || had !== f.sha1 || (file !== undefined && this.#changed.has(keyString(file)))) {
        files.push(Prisma.sql`(${groupId}, ${fileName}, ${BigInt(f.size)}, ${f.sha1}, ${f.pieceSize}, ${f.pieceHashes}, ${new Date(f.sharedAt)}, ${f.fileCount}, ${f.manifest})`);
      }
      for (const h of state.holdings) {
        holdings.push(Prisma.sql`(${groupId}, ${fileName}, ${h.userId}, ${h.piecesHeld}, ${new Date(h.updatedAt)})`);
      }
    }
    for (const part of chunks(gone)) await writes.add("SharedFile", Prisma.sql`DELETE FROM "SharedFile" WHERE ${where(part)}`);
    for (const part of chunks(files, 20)) {
      await writes.add("SharedFile", Prisma.sql`
        INSERT INTO "SharedFile" ("groupId", "fileName", "size", "sha1", "pieceSize", "pieceHashes", "sharedAt", "fileCount", "manifest") VALUES ${Prisma.join(part)}
        ON CONFLICT ("groupId", "fileName") DO UPDATE SET "size" = excluded."size", "sha1" = excluded."sha1",
          "pieceSize" = excluded."pieceSize", "pieceHashes" = excluded."pieceHashes", "sharedAt" = excluded."sharedAt",
          "fileCount" = excluded."fileCount", "manifest" = excluded."manifest"`);
    }
    for (const part of chunks(holdings)) {
      await writes.add("Holding", Prisma.sql`INSERT INTO "Holding" ("groupId", "fileName", "userId", "piecesHeld", "updatedAt") VALUES ${Prisma.join(part)}`);
    }
  }
}
