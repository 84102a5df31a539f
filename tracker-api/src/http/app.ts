import express, { type NextFunction, type Request, type Response } from "express";
import { ValidateError } from "@tsoa/runtime";
import { AppError, Codes, NotFoundError, PayloadTooLargeError, TooManyRequestsError, toProblem, UnavailableError, ValidationError } from "../../../core/errors.js";
import { RegisterRoutes } from "../generated/routes.js";
import type { Replicator } from "../replication/replicator.js";
import { replicationRouter } from "../replication/routes.js";
import type { Tracker } from "../tracker.js";
import { mountDocs } from "./docs.js";
import { nestsDeeperThan } from "./json-depth.js";
import { paceHealth } from "./health-pacing.js";
import { idempotency } from "./idempotency.js";
import { securityHeaders } from "./security-headers.js";
import { methodNotAllowed, rejectBadPercentEncoding } from "./wire.js";
import { TRACKER } from "../config.js";


/** The HTTP face of one tracker: its API, and the replication routes when it syncs with others. */
export function createApp(tracker: Tracker): express.Express {
  const app = express();
  app.locals.tracker = tracker;
  app.disable("x-powered-by");
  // First: a flood of health calls waits here, before any work is spent on it.
  app.use(paceHealth(tracker.healthPacer));
  app.use(securityHeaders());
  app.use(rejectBadPercentEncoding());
  if (tracker.replication) {
    const { replicator, secret, testSwitches } = tracker.replication;
    // Before the JSON parser: signatures are checked over the raw body.
    app.use("/replication", replicationRouter(replicator, { secret, testSwitches, onLoginAttempts: (body) => tracker.loginThrottle.receive(body) }));
    app.use(refuseWhileRecovering(replicator));
  }
  app.use(express.json({ limit: TRACKER.BODY_LIMIT, verify: refuseDeepJson }));
  app.use(idempotency(tracker));
  mountDocs(app);
  RegisterRoutes(app);
  app.use(methodNotAllowed());
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new NotFoundError(`no route ${req.method} ${req.path}`, Codes.ROUTE_NOT_FOUND));
  });
  app.use(problemHandler);
  return app;
}

/** Answered while recovering, as none reads the database: the tracker's state, its grant keys (agents verify grants with them) and the API docs. */
const OPEN_WHILE_RECOVERING = new Set(["/health", "/.well-known/jwks.json", "/openapi.json"]);

/**
 * A tracker on a new database that is pulling back what it had answers no
 * client from that database, reads included: a login would be refused as a
 * wrong password (and counted by the login throttle, locking the account out
 * after the recovery), a valid token as an invalid session (the client then
 * drops it), a group as not found. 503 TRACKER_RECOVERING sends the client
 * to another tracker instead. (The nemesis found it: seed 3.)
 */
function refuseWhileRecovering(replicator: Replicator) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (OPEN_WHILE_RECOVERING.has(req.path) || req.path.startsWith("/docs")) return next();
    try {
      replicator.checkWritable();
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** The one place where errors become RFC 9457 problem documents. */
function problemHandler(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const known = toAppError(error);
  if ((known instanceof TooManyRequestsError || known instanceof UnavailableError) && known.retryAfterSeconds !== undefined) {
    res.setHeader("retry-after", String(known.retryAfterSeconds));
  }
  if (known.status === 401) res.setHeader("www-authenticate", 'Bearer realm="tracker"');
  res.status(known.status).type("application/problem+json").send(serializeProblem(known));
}

function refuseDeepJson(_req: Request, _res: Response, body: Buffer): void {
  if (nestsDeeperThan(body, TRACKER.MAX_JSON_DEPTH)) {
    throw new ValidationError(`request body nests deeper than ${TRACKER.MAX_JSON_DEPTH} levels`, Codes.JSON_TOO_DEEP);
  }
}

/** A problem whose details cannot be serialized (they echo something pathological) is still sent, without them. */
function serializeProblem(error: AppError): string {
  try {
    return JSON.stringify(toProblem(error));
  } catch {
    return JSON.stringify(toProblem(new AppError(error.status, error.code, error.message)));
  }
}

function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ValidateError) {
    return new ValidationError("request does not match the API", Codes.VALIDATION_FAILED, { errors: error.fields });
  }
  const type = (error as { type?: string }).type;
  if (type === "entity.too.large") return new PayloadTooLargeError(`request body is larger than ${TRACKER.BODY_LIMIT}`);
  if (type === "entity.parse.failed") return new ValidationError("request body is not valid JSON", Codes.MALFORMED_JSON);
  return new AppError(500, Codes.INTERNAL, "internal error");
}
