/**
 * The invariants of a nemesis run, checked on every tracker once the cluster
 * is healed and has converged:
 *   lost-write        an acknowledged write is not visible (user, session,
 *                     group, membership, join request, share);
 *   not-granted       a tracker shows a group, membership, join request or
 *                     holder that its owner never granted (the allowed set is
 *                     every operation issued, acknowledged or not);
 *   revoked-grant     a user refused by the history (left, logged out, never
 *                     accepted) still gets a session or a grant.
 * Names are compared by family (`p1~2` is `p1`): a write done twice makes a
 * second account or group under a `~n` name, which the rules allow.
 */
import { AppError } from "../../../../core/errors.js";
import type { FileView, GroupView } from "../../../../core/api-types.js";
import { TrackerClient } from "../../../../core/tracker-client.js";
import type { TrackerAddress } from "../../../../core/tracker-info.js";
import type { OpRecord } from "./history.js";
import type { Model } from "./model.js";

export interface Violation {
  rule: "lost-write" | "not-granted" | "revoked-grant" | "not-converged" | "tracker-crashed" | "check-failed";
  tracker?: number;
  detail: string;
}

export function family(name: string): string {
  return name.replace(/~\d+$/, "");
}

/** Grants given during the run to someone who was never allowed into the group. */
export function checkHistory(ops: readonly OpRecord[], model: Model): Violation[] {
  return ops
    .filter((op) => op.kind === "peers" && op.outcome?.kind === "ok" && !model.allowedMember(op.group!, op.actor))
    .map((op) => ({ rule: "not-granted", tracker: op.outcome?.kind === "ok" ? op.outcome.tracker : undefined, detail: `#${op.index}: ${op.actor} got a grant for ${op.group}/${op.file} and was never accepted` }));
}

/** Checks one converged tracker against the model. `passwords` by person. */
export async function checkTracker(address: TrackerAddress, model: Model, passwords: ReadonlyMap<string, string>): Promise<Violation[]> {
  const violations: Violation[] = [];
  const found = (rule: Violation["rule"], detail: string) => violations.push({ rule, tracker: address.number, detail });
  const clients = new Map<string, TrackerClient | null>();
  const peerAddress = "127.0.0.1:7999";
  /** A session on this tracker for an account (a name as the tracker shows it), or null if it refuses the login. */
  const as = async (account: string): Promise<TrackerClient | null> => {
    if (!clients.has(account)) {
      const client = new TrackerClient([address]);
      try {
        await client.login({ userId: account, password: passwords.get(family(account)) ?? "-", peerAddress });
        clients.set(account, client);
      } catch (error) {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        await client.close();
        clients.set(account, null);
      }
    }
    return clients.get(account)!;
  };

  try {
    // Accounts and sessions.
    for (const [person, user] of model.users) {
      if (user.acknowledged && !(await as(person))) found("lost-write", `${person} cannot log in`);
    }
    const probe = new TrackerClient([address]);
    try {
      for (const [person, token] of model.liveTokens) {
        if (!(await sessionWorks(probe, token))) found("lost-write", `${person}'s session (acknowledged login) is not known`);
      }
      for (const { actor, token } of model.deadTokens) {
        if (await sessionWorks(probe, token)) found("revoked-grant", `${actor}'s session still works after its acknowledged logout`);
      }
    } finally {
      await probe.close();
    }

    const anyone = await firstSession(as, [...model.users.keys()]);
    if (!anyone) return violations;
    const groups = await anyone.listGroups();
    const byFamily = new Map<string, GroupView[]>();
    for (const view of groups) byFamily.set(family(view.groupId), [...(byFamily.get(family(view.groupId)) ?? []), view]);

    for (const [name, facts] of model.groups) {
      if (facts.acknowledged && !byFamily.has(name)) found("lost-write", `group ${name} (created by ${facts.owner}) is missing`);
    }
    for (const view of groups) {
      const name = family(view.groupId);
      const facts = model.groups.get(name);
      if (!facts) {
        found("not-granted", `group ${view.groupId} was never created`);
        continue;
      }
      if (family(view.owner) !== facts.owner) found("not-granted", `group ${view.groupId} is owned by ${view.owner}, created by ${facts.owner}`);
      const owner = await as(view.owner);
      if (!owner) {
        found("check-failed", `cannot log in as ${view.owner}, owner of ${view.groupId}`);
        continue;
      }
      // With two groups of one family, which one an operation by name reached is not known: check only what is allowed.
      const exact = byFamily.get(name)!.length === 1;
      const certain = (user: string) => exact && !model.pair(name, user).uncertain;

      const members = new Set((await owner.listMembers(view.groupId)).map((m) => family(m.userId)));
      for (const member of members) {
        if (!model.allowedMember(name, member)) found("not-granted", `${member} is a member of ${view.groupId} and was never accepted`);
      }
      const requests = new Set((await owner.listJoinRequests(view.groupId)).map((r) => family(r.userId)));
      for (const requester of requests) {
        if (!model.pair(name, requester).requestIssued) found("not-granted", `${requester} has a join request for ${view.groupId} and never asked`);
      }
      for (const person of model.users.keys()) {
        if (person === facts.owner || !certain(person)) continue;
        const state = model.pair(name, person).state;
        if ((state === "member") !== members.has(person)) found("lost-write", `${person} ${members.has(person) ? "is" : "is not"} a member of ${view.groupId}; the last acknowledged write says ${state}`);
        if ((state === "pending") !== requests.has(person)) found("lost-write", `${person} ${requests.has(person) ? "has" : "has no"} join request for ${view.groupId}; the last acknowledged write says ${state}`);
      }

      const files = await owner.listFiles(view.groupId);
      checkFiles(name, view.groupId, files, model, certain, found);

      // Grants: whoever the history keeps out must be refused the peers (and so a grant) of every file.
      const file = files[0];
      if (!file) continue;
      for (const person of model.users.keys()) {
        if (person === facts.owner || !certain(person) || model.pair(name, person).state === "member") continue;
        const client = await as(person);
        if (!client) continue;
        const granted = await client.getPeers(view.groupId, file.fileName).then(() => true, (error) => {
          if (error instanceof AppError && error.status < 500) return false;
          throw error;
        });
        if (granted) {
          const pair = model.pair(name, person);
          found(pair.revoked ? "revoked-grant" : "not-granted", `${person} gets a grant for ${view.groupId}/${file.fileName} (${pair.revoked ? "left the group" : "never a member"})`);
        }
      }
    }
  } catch (error) {
    found("check-failed", error instanceof Error ? error.message : String(error));
  } finally {
    for (const client of clients.values()) await client?.close();
  }
  return violations;
}

function checkFiles(
  name: string,
  groupId: string,
  files: FileView[],
  model: Model,
  certain: (user: string) => boolean,
  found: (rule: Violation["rule"], detail: string) => void,
): void {
  const listed = new Map(files.map((f) => [f.fileName, new Set(f.sharedBy.map(family))]));
  for (const [fileName, holders] of listed) {
    for (const holder of holders) {
      if (!model.shareIssued(name, holder, fileName)) found("not-granted", `${holder} holds ${groupId}/${fileName} and never shared it`);
    }
  }
  for (const { group, user, file, share } of model.shares()) {
    if (group !== name || share.uncertain || !certain(user)) continue;
    const holds = listed.get(file)?.has(user) ?? false;
    if (share.shared !== holds) found("lost-write", `${user} ${holds ? "holds" : "does not hold"} ${groupId}/${file}; the last acknowledged write says ${share.shared ? "shared" : "not shared"}`);
  }
}

async function sessionWorks(client: TrackerClient, token: string): Promise<boolean> {
  try {
    await client.send("GET", "/sessions/current", { token });
    return true;
  } catch (error) {
    if (error instanceof AppError && error.status === 401) return false;
    throw error;
  }
}

async function firstSession(as: (account: string) => Promise<TrackerClient | null>, accounts: string[]): Promise<TrackerClient | null> {
  for (const account of accounts) {
    const client = await as(account);
    if (client) return client;
  }
  return null;
}
