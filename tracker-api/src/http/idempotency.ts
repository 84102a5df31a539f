import { createHash } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { AppError, Codes, toProblem, ValidationError } from "../../../core/errors.js";
import type { TrackerDb } from "../db/open.js";
import { WriteNotCommittedError, type AnswerEvent, type Outbox } from "../replication/outbox.js";
import { writeAnswersSql } from "../replication/event-log.js";
import type { Tracker } from "../tracker.js";
import { verifyPassword } from "../services/passwords.js";
import { TRACKER } from "../config.js";
import { tokenHash } from "../services/sessions.js";

/** Visible ASCII, as clients send UUIDs or similar. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/**
 * Logging in answers a secret that is never stored; a retried login opens another session, which is harmless.
 * A password change is not kept either: its fingerprint would be a fast hash of both passwords (a retry after
 * it succeeded is refused as a wrong current password). Asking about grants changes nothing and is asked by
 * every serving agent every few seconds: keeping those answers would fill the log for nothing.
 */
const NOT_KEPT = new Set(["POST /sessions", "PUT /users/me/password", "POST /grants/status"]);

/**
 * Idempotency-Key on every tracker write (draft-ietf-httpapi-idempotency-key-header).
 * The client sends a random key per logical request and keeps it across retries
 * (after a timeout, or on another tracker). The first answer is stored under
 * (caller, key) before it is sent, so an acknowledged write always has its
 * record; a repeat of the same method, path and body is answered with that
 * stored status and body and `Idempotent-Replayed: true`, without doing the
 * write again. The same key on a different request (or a retried account
 * creation with another password) is a 422 problem, as the draft says. A repeat
 * that arrives while the first is still running waits for its answer.
 *
 * The caller is the SHA-256 of the bearer token (so a retried logout still
 * finds its answer after the token stopped working), or "anonymous". Answers
 * the client should retry for real (5xx, 401, 429) are not kept. Keys expire
 * after 24 h.
 */
export function idempotency(tracker: Tracker): RequestHandler {
  const { db, outbox } = tracker;
  const inFlight = new Map<string, Promise<void>>();
  let lastSweep = 0;

  return async (req: Request, res: Response, next: NextFunction) => {
    const key = req.get("idempotency-key");
    if (key === undefined || !WRITES.has(req.method) || NOT_KEPT.has(`${req.method} ${req.path}`)) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new ValidationError("Idempotency-Key must be 1-255 visible ASCII characters", Codes.BAD_IDEMPOTENCY_KEY);
    }
    const scope = callerScope(req.headers.authorization);
    const id = `${scope} ${key}`;
    // One request per key at a time: a retry that overtook its original waits for
    // the original's answer. Claimed with no await after the wait, so two cannot both claim.
    while (inFlight.has(id)) await inFlight.get(id);
    let release!: () => void;
    const claim = new Promise<void>((resolve) => {
      release = () => {
        if (inFlight.get(id) === claim) inFlight.delete(id);
        resolve();
      };
    });
    inFlight.set(id, claim);
    // Also when the connection closes before an answer was sent.
    res.once("close", release);

    const request = { method: req.method, path: req.path, fingerprint: fingerprint(req.body) };
    const now = tracker.clock();
    let stored: Answer | undefined;
    try {
      stored = await findAnswer(db, scope, key, new Date(now - TRACKER.IDEMPOTENCY_TTL_MS));
    } catch (error) {
      release();
      throw error;
    }
    if (stored) {
      release();
      const same = stored.method === request.method && stored.path === request.path && stored.fingerprint === request.fingerprint;
      if (!same || !(await sameSecret(db, req, stored))) {
        throw new AppError(
          422,
          Codes.IDEMPOTENCY_KEY_REUSED,
          `Idempotency-Key "${key}" was used for another request (${stored.method} ${stored.path}); use a new key for a new request`,
        );
      }
      res.status(Number(stored.status)).set("idempotent-replayed", "true");
      if (stored.contentType) res.set("content-type", stored.contentType);
      res.end(stored.body);
      return;
    }

    // The write's events are delivered to the other trackers together with its answer
    // (and committed with it: the write's transaction waits for the answer, see Outbox.write).
    let hold: ReturnType<Outbox["holdDeliveries"]> | undefined;
    res.once("close", () => void hold?.deliver().catch(() => {}));
    beforeSending(res, async (status, contentType, body) => {
      let answer: AnswerEvent | undefined;
      try {
        if (status < 500 && status !== 401 && status !== 429) {
          const kept = { scope, key, ...request, status, contentType, body, createdAt: new Date(tracker.clock()) };
          if (hold?.changed()) answer = { type: "idempotency.answered", payload: { ...kept, createdAt: kept.createdAt.toISOString() } };
          else await keepAnswer(db, kept);
        }
      } catch {
        // The write itself is done: answer it. A retry would then be done again.
      }
      try {
        await hold?.deliver(answer);
        if (now - lastSweep > TRACKER.IDEMPOTENCY_SWEEP_EVERY_MS) {
          lastSweep = now;
          await db.idempotencyKey.deleteMany({ where: { createdAt: { lt: new Date(now - TRACKER.IDEMPOTENCY_TTL_MS) } } });
        }
      } catch (error) {
        // A write that did not commit must not be answered as done. Otherwise the
        // write is done (the answer was not kept, or the sweep waits for next time).
        if (error instanceof WriteNotCommittedError) return false;
      } finally {
        release();
      }
      return true;
    });
    hold = outbox.holdDeliveries(next);
  };
}

// Two statements on every write: in SQL rather than through Prisma's model API,
// which costs several times as much per query (portable SQL: SQLite and PostgreSQL).

type Answer = { method: string; path: string; fingerprint: string; status: number | bigint; contentType: string; body: string };

async function findAnswer(db: TrackerDb, scope: string, key: string, notBefore: Date): Promise<Answer | undefined> {
  const [answer] = await db.$queryRaw<Answer[]>`
    SELECT "method", "path", "fingerprint", "status", "contentType", "body" FROM "IdempotencyKey"
    WHERE "scope" = ${scope} AND "key" = ${key} AND "createdAt" > ${notBefore}`;
  return answer;
}

/** An answer to a request that changed nothing: no event, so kept directly, by the same statement the projection uses. */
async function keepAnswer(db: TrackerDb, a: Answer & { scope: string; key: string; status: number; createdAt: Date }): Promise<void> {
  await db.$executeRaw(writeAnswersSql([{ ...a, createdAt: a.createdAt.toISOString() }]));
}

/**
 * The fingerprint leaves passwords out (it must not be a fast hash of one), so
 * a retried account creation is checked against the account it made: the
 * same key with another password is another request, not a retry whose
 * answer would claim a password that does not work.
 */
async function sameSecret(db: TrackerDb, req: Request, stored: Answer): Promise<boolean> {
  const password = (req.body as { password?: unknown } | undefined)?.password;
  if (typeof password !== "string" || stored.method !== "POST" || stored.path !== "/users" || Number(stored.status) !== 201) return true;
  const created = JSON.parse(stored.body) as { userId?: string };
  const user = created.userId === undefined ? null : await db.user.findUnique({ where: { name: created.userId }, select: { passwordHash: true } });
  // Renamed since (a name conflict): nothing to compare with, and the retry is refused rather than guessed.
  return user !== null && (await verifyPassword(password, user.passwordHash));
}

function callerScope(authorization: string | undefined): string {
  const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
  return token ? tokenHash(token) : "anonymous";
}

/**
 * The request body with passwords left out, so the table never holds a fast hash of one.
 * Serialized without a replacer (a function call per value, slow on long piece
 * lists) unless the text mentions "password" at all; the result is the same.
 */
function fingerprint(body: unknown): string {
  let canonical = JSON.stringify(body ?? null);
  if (canonical.includes('"password"')) {
    canonical = JSON.stringify(body ?? null, (name, value: unknown) => (name === "password" ? undefined : value));
  }
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * Holds the response's last write until `keep` has run with its status,
 * content type and body; when `keep` says the answer must not be sent (its
 * write did not commit), a 500 problem is sent instead if nothing was sent yet.
 * Wrapping this response's own write/end is how Express middleware that must
 * see or change an answer after the handler works (compression and
 * express-session do the same): Express has no hook before sending, and the
 * answers come from tsoa's generated routes and the problem handler alike.
 */
function beforeSending(res: Response, keep: (status: number, contentType: string, body: string) => Promise<boolean>): void {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const chunks: Buffer[] = [];
  const collect = (chunk: unknown, encoding: unknown) => {
    if (typeof chunk === "string") chunks.push(Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8"));
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
  };
  res.write = ((chunk: unknown, encoding?: unknown, ...rest: unknown[]) => {
    collect(chunk, encoding);
    return write(chunk, encoding, ...rest);
  }) as Response["write"];
  res.end = ((...args: unknown[]) => {
    res.end = end as Response["end"];
    collect(args[0], args[1]);
    const contentType = String(res.getHeader("content-type") ?? "");
    void keep(res.statusCode, contentType, Buffer.concat(chunks).toString("utf8")).then((send) => {
      if (send || res.headersSent) return end(...args);
      const problem = JSON.stringify(toProblem(new AppError(500, Codes.WRITE_NOT_SAVED, "the change could not be saved and nothing was changed; retry it")));
      for (const name of ["content-type", "content-length", "etag", "location"]) res.removeHeader(name);
      res.statusCode = 500;
      res.setHeader("content-type", "application/problem+json");
      res.setHeader("content-length", Buffer.byteLength(problem));
      return end(problem);
    });
    return res;
  }) as Response["end"];
}
