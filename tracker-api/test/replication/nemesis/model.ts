/**
 * What the acknowledged history says the trackers must hold, and what it
 * allows them to hold. Built by replaying the history: every operation counts
 * as issued (an operation in flight or with an unknown outcome may have been
 * done, so it widens what is allowed), and only acknowledged ones set what
 * must be there. A key touched by an operation of unknown outcome, or by one
 * that a tracker may still do late (an attempt that timed out before another
 * tracker answered), is "uncertain": what it must hold at the end is not
 * known, so only what is allowed is checked for it.
 */
import type { OpRecord } from "./history.js";

export type PairState = "none" | "pending" | "member";

export interface Pair {
  state: PairState;
  uncertain: boolean;
  /** Some accept of this user into this group was issued by the owner. */
  acceptIssued: boolean;
  requestIssued: boolean;
  /** An acknowledged leave ended a membership: the user must now be refused grants. */
  revoked: boolean;
}

export interface Share {
  shared: boolean;
  uncertain: boolean;
}

export interface GroupFacts {
  owner: string;
  /** Created: acknowledged, or refused as existing after an attempt of unknown outcome. */
  exists: boolean;
  acknowledged: boolean;
}

export class Model {
  /**
   * A creation done twice (an attempt that timed out, then done by its tracker
   * after another tracker did it too) leaves `name~2`, the same person's: the
   * checker compares users by name family, so this needs no exception.
   */
  readonly users = new Map<string, { created: boolean; acknowledged: boolean }>();
  readonly groups = new Map<string, GroupFacts>();
  readonly #pairs = new Map<string, Pair>();
  /** (group, user, file) -> share */
  readonly #shares = new Map<string, Share>();
  /** The session each person uses now (login acknowledged, no logout tried since). */
  readonly liveTokens = new Map<string, string>();
  /** Tokens whose logout was acknowledged: dead on every tracker. */
  readonly deadTokens: { actor: string; token: string }[] = [];

  static fromHistory(ops: readonly OpRecord[]): Model {
    const model = new Model();
    for (const op of ops) model.issued(op);
    const done = ops.filter((op) => op.outcome !== undefined).sort((a, b) => a.endMs! - b.endMs! || a.index - b.index);
    for (const op of done) model.completed(op);
    return model;
  }

  pair(group: string, user: string): Pair {
    const key = `${group}\u0000${user}`;
    let pair = this.#pairs.get(key);
    if (!pair) this.#pairs.set(key, (pair = { state: "none", uncertain: false, acceptIssued: false, requestIssued: false, revoked: false }));
    return pair;
  }

  pairs(): { group: string; user: string; pair: Pair }[] {
    return [...this.#pairs].map(([key, pair]) => {
      const [group, user] = key.split("\u0000") as [string, string];
      return { group, user, pair };
    });
  }

  /** Whether this user ever tried to share this file in this group. */
  shareIssued(group: string, user: string, file: string): boolean {
    return this.#shares.has(`${group}\u0000${user}\u0000${file}`);
  }

  share(group: string, user: string, file: string): Share {
    const key = `${group}\u0000${user}\u0000${file}`;
    let share = this.#shares.get(key);
    if (!share) this.#shares.set(key, (share = { shared: false, uncertain: false }));
    return share;
  }

  shares(): { group: string; user: string; file: string; share: Share }[] {
    return [...this.#shares].map(([key, share]) => {
      const [group, user, file] = key.split("\u0000") as [string, string, string];
      return { group, user, file, share };
    });
  }

  /** How much of the history the end state can be checked against exactly (the rest only against what is allowed). */
  coverage(): string {
    const pairs = this.pairs().filter(({ group, user }) => this.groups.get(group)?.owner !== user);
    const shares = this.shares();
    const certainPairs = pairs.filter((p) => !p.pair.uncertain).length;
    const certainShares = shares.filter((s) => !s.share.uncertain).length;
    return `exact end state known for ${certainPairs}/${pairs.length} (group, user) pairs and ${certainShares}/${shares.length} shares`;
  }

  /** Who may hold the group's membership: its owner and whoever the owner tried to accept. */
  allowedMember(group: string, user: string): boolean {
    return this.groups.get(group)?.owner === user || this.pair(group, user).acceptIssued;
  }

  /** Called when an operation is sent: what it may do becomes allowed. */
  issued(op: OpRecord): void {
    switch (op.kind) {
      case "createGroup":
        if (!this.groups.has(op.group!)) this.groups.set(op.group!, { owner: op.actor, exists: false, acknowledged: false });
        break;
      case "requestJoin":
        this.pair(op.group!, op.actor).requestIssued = true;
        break;
      case "accept":
        this.pair(op.group!, op.user!).acceptIssued = true;
        break;
      case "share":
        this.share(op.group!, op.actor, op.file!);
        break;
      default:
    }
  }

  /** Called when an operation has its outcome. */
  completed(op: OpRecord): void {
    const outcome = op.outcome!;
    const ok = outcome.kind === "ok";
    const doubtful = outcome.kind === "unknown" || op.mayRepeatLate;
    switch (op.kind) {
      case "createUser": {
        const user = this.users.get(op.actor) ?? { created: false, acknowledged: false };
        if (ok) user.created = user.acknowledged = true;
        if (outcome.kind === "refused" && outcome.code === "USER_EXISTS") user.created = true;
        this.users.set(op.actor, user);
        break;
      }
      case "login":
        if (ok) this.liveTokens.set(op.actor, op.token!);
        break;
      case "logout":
        if (this.liveTokens.get(op.actor) === op.token) this.liveTokens.delete(op.actor);
        if (ok) this.deadTokens.push({ actor: op.actor, token: op.token! });
        break;
      case "createGroup": {
        const group = this.groups.get(op.group!)!;
        if (ok || (outcome.kind === "refused" && outcome.code === "GROUP_EXISTS")) {
          group.exists = true;
          group.acknowledged ||= ok;
          this.pair(op.group!, op.actor).state = "member";
        }
        break;
      }
      case "requestJoin":
      case "accept":
      case "leave": {
        const user = op.kind === "accept" ? op.user! : op.actor;
        const pair = this.pair(op.group!, user);
        if (doubtful) pair.uncertain = true;
        if (ok) {
          pair.state = op.kind === "requestJoin" ? "pending" : op.kind === "accept" ? "member" : "none";
          if (op.kind === "leave") pair.revoked = true;
          if (op.kind === "accept") pair.revoked = false;
        }
        if (op.kind === "leave" && (ok || doubtful)) {
          // Leaving ends the user's shares in the group.
          for (const { group, user: holder, share } of this.shares()) {
            if (group !== op.group || holder !== op.actor) continue;
            if (ok) share.shared = false;
            if (doubtful) share.uncertain = true;
          }
        }
        break;
      }
      case "share":
      case "unshare": {
        const share = this.share(op.group!, op.actor, op.file!);
        if (doubtful) share.uncertain = true;
        if (ok) share.shared = op.kind === "share";
        break;
      }
      default:
    }
  }
}
