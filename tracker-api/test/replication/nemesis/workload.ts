/**
 * The clients of a nemesis run: each person is one user with its own
 * TrackerClient (the CLI's, with failover), preferring another tracker than
 * the others, doing one operation at a time, chosen at random among those the
 * acknowledged history makes meaningful (accept a pending request, leave a
 * group one is a member of, …). Names are unique per person (`p2`, `p2g3`,
 * `p2f5.bin`), so two names only meet through a tracker doing a write twice.
 */
import { createHash, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { AppError } from "../../../../core/errors.js";
import { TrackerClient } from "../../../../core/tracker-client.js";
import type { TrackerAddress } from "../../../../core/tracker-info.js";
import type { History, OpKind, OpRecord, Outcome } from "./history.js";
import type { Model } from "./model.js";
import type { Rng } from "./rng.js";

export const WORKLOAD = Object.freeze({
  /** Pause between one person's operations: enough writers to race, little enough load for two shared cores. */
  thinkMs: [5, 60] as const,
  /** Per attempt, as the CLI (3 s): a frozen tracker costs a client this much before it fails over; less fails over from a tracker that is only slow (scrypt on a loaded machine). */
  clientTimeoutMs: 3000,
  /** How long a client skips a tracker that failed it. */
  retryDownTrackerAfterMs: 1000,
  /** Groups one person creates at most, so joins and shares meet the same groups often. */
  groupsPerPerson: 3,
  /** Files one person shares at most per group. */
  filesPerGroup: 3,
  /** After a refused login (a tracker that has not heard of the account yet, or a throttle), before the next try. */
  loginBackoffMs: 1000,
  /** Relative frequency of each operation among those possible at the moment. */
  weights: { createGroup: 2, requestJoin: 6, accept: 8, leave: 3, share: 6, unshare: 2, peers: 5, logout: 1 } satisfies Partial<Record<OpKind, number>>,
});

const PIECE_SIZE = 524_288;
const FILE_SIZE = 1000;

/** A file's metadata, a function of its name: a name never gets two contents. */
export function fileMetadata(fileName: string) {
  const sha1 = createHash("sha1").update(fileName).digest("hex");
  const piece = createHash("sha1").update(`${fileName}:0`).digest("hex");
  return { fileName, size: FILE_SIZE, sha1, pieceSize: PIECE_SIZE, pieceHashes: [piece] };
}

/** The failover reasons of an attempt that certainly did nothing: the connection was refused, or the tracker said so (503). */
function attemptDidNothing(reason: string): boolean {
  return /ECONNREFUSED|UND_ERR_CONNECT_TIMEOUT|answered 503/.test(reason);
}

export class Person {
  readonly client: TrackerClient;
  readonly password = randomBytes(9).toString("base64url");
  #groupsMade = 0;
  #filesMade = 0;
  #current: OpRecord | undefined;

  constructor(
    readonly name: string,
    readonly rng: Rng,
    trackers: readonly TrackerAddress[],
    readonly model: Model,
    readonly history: History,
    private readonly peerAddress: string,
  ) {
    this.client = new TrackerClient(trackers, {
      timeoutMs: WORKLOAD.clientTimeoutMs,
      retryDownTrackerAfterMs: WORKLOAD.retryDownTrackerAfterMs,
      onFailover: ({ reason }) => this.#current?.failovers.push(reason),
    });
  }

  async run(stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      const last = await this.step();
      const loginRefused = last?.kind === "login" && last.outcome?.kind !== "ok";
      await sleep(loginRefused ? WORKLOAD.loginBackoffMs : this.rng.between(...WORKLOAD.thinkMs));
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** One operation, chosen from what the history makes possible now. */
  async step(): Promise<OpRecord | undefined> {
    const me = this.name;
    const user = this.model.users.get(me);
    if (!user?.created) return this.#do("createUser", {}, () => this.client.createUser({ userId: me, password: this.password }));
    if (!this.client.token) {
      return this.#do("login", {}, async (record) => {
        const result = await this.client.login({ userId: me, password: this.password, peerAddress: this.peerAddress });
        record.token = result.token;
      });
    }

    const groups = [...this.model.groups].filter(([, g]) => g.exists).map(([name, g]) => ({ name, ...g }));
    const certainPair = (group: string, user: string, state: string) => {
      const pair = this.model.pair(group, user);
      return !pair.uncertain && pair.state === state;
    };
    const toJoin = groups.filter((g) => g.owner !== me && certainPair(g.name, me, "none"));
    const toAccept = this.model.pairs().filter(({ group, pair }) => this.model.groups.get(group)?.owner === me && !pair.uncertain && pair.state === "pending");
    const toLeave = groups.filter((g) => g.owner !== me && certainPair(g.name, me, "member"));
    const memberOf = groups.filter((g) => certainPair(g.name, me, "member"));
    const myShares = this.model.shares().filter((s) => s.user === me && s.share.shared && !s.share.uncertain);
    const shared = this.model.shares().filter((s) => s.share.shared);

    const weights: Partial<Record<OpKind, number>> = { logout: WORKLOAD.weights.logout };
    if (this.#groupsMade < WORKLOAD.groupsPerPerson) weights.createGroup = WORKLOAD.weights.createGroup;
    if (toJoin.length > 0) weights.requestJoin = WORKLOAD.weights.requestJoin;
    if (toAccept.length > 0) weights.accept = WORKLOAD.weights.accept;
    if (toLeave.length > 0) weights.leave = WORKLOAD.weights.leave;
    if (memberOf.length > 0) weights.share = WORKLOAD.weights.share;
    if (myShares.length > 0) weights.unshare = WORKLOAD.weights.unshare;
    if (shared.length > 0) weights.peers = WORKLOAD.weights.peers;

    switch (this.rng.weighted(weights)) {
      case "createGroup": {
        const group = `${me}g${++this.#groupsMade}`;
        await this.#do("createGroup", { group }, () => this.client.createGroup(group));
        break;
      }
      case "requestJoin": {
        const group = this.rng.pick(toJoin).name;
        await this.#do("requestJoin", { group }, () => this.client.requestJoin(group));
        break;
      }
      case "accept": {
        const { group, user: joiner } = this.rng.pick(toAccept);
        await this.#do("accept", { group, user: joiner }, () => this.client.acceptJoin(group, joiner));
        break;
      }
      case "leave": {
        const group = this.rng.pick(toLeave).name;
        await this.#do("leave", { group }, () => this.client.leaveGroup(group, me));
        break;
      }
      case "share": {
        const group = this.rng.pick(memberOf).name;
        const mine = this.model.shares().filter((s) => s.group === group && s.user === me).map((s) => s.file);
        const file = mine.length < WORKLOAD.filesPerGroup && this.rng.next() < 0.7 ? `${me}f${++this.#filesMade}.bin` : this.rng.pick(mine.length > 0 ? mine : [`${me}f${++this.#filesMade}.bin`]);
        await this.#do("share", { group, file }, () => this.client.shareFile(group, fileMetadata(file)));
        break;
      }
      case "unshare": {
        const { group, file } = this.rng.pick(myShares);
        await this.#do("unshare", { group, file }, () => this.client.stopSharing(group, file));
        break;
      }
      case "peers": {
        // Also asked by people outside the group: the answer must then be a refusal.
        const { group, file } = this.rng.pick(shared);
        await this.#do("peers", { group, file }, () => this.client.getPeers(group, file));
        break;
      }
      case "logout": {
        const token = this.client.token;
        await this.#do("logout", { token }, () => this.client.logout());
        // Whatever the answer, this session is not used again.
        this.client.token = undefined;
        break;
      }
      default:
    }
    return undefined;
  }

  async #do(kind: OpKind, fields: Parameters<History["begin"]>[2], action: (record: OpRecord) => Promise<unknown>): Promise<OpRecord> {
    const record = this.history.begin(this.name, kind, fields);
    this.model.issued(record);
    this.#current = record;
    let outcome: Outcome;
    try {
      await action(record);
      outcome = { kind: "ok", tracker: this.client.currentTracker?.number };
    } catch (error) {
      outcome = classify(error, record);
    }
    this.#current = undefined;
    record.mayRepeatLate = record.failovers.some((reason) => !attemptDidNothing(reason));
    this.history.end(record, outcome);
    this.model.completed(record);
    if (outcome.kind === "refused" && outcome.status === 401 && kind !== "login" && kind !== "createUser") {
      // The session is not known here (a logout, or a login not replicated yet to a tracker that was wiped): log in again.
      this.client.token = undefined;
    }
    return record;
  }
}

function classify(error: unknown, record: OpRecord): Outcome {
  if (error instanceof AppError && error.code === "NO_TRACKER_REACHABLE") {
    const reasons = /\((.*)\)$/s.exec(error.message)?.[1]?.split("; ") ?? [error.message];
    record.failovers.push(...reasons.slice(record.failovers.length));
    return reasons.every(attemptDidNothing) ? { kind: "refused", status: 503, code: error.code } : { kind: "unknown", reason: reasons.at(-1) ?? "" };
  }
  if (error instanceof AppError) return { kind: "refused", status: error.status, code: error.code };
  return { kind: "unknown", reason: error instanceof Error ? error.message : String(error) };
}
