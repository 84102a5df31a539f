/**
 * The replication surface between trackers (not part of the client API, so
 * not in openapi.yaml). Signed routes read the raw body, so they are mounted
 * before the JSON body parser.
 *   POST /replication/events            signed: a batch of events   -> { heads }
 *   GET  /replication/events?origin=&after=&limit=  signed         -> { origin, events }
 *   GET  /replication/heads             signed                      -> { trackerId, heads }
 *   GET  /replication/digest            signed: reads the state now   -> { trackerId, digest, heads } (heads null when events were applied meanwhile)
 *   POST /replication/logins            signed: login attempts made on the sender (login-attempts.ts) -> 204
 *   POST /replication/test/partition    only with P2P_TEST_SWITCHES=1: { blocked }, or { blocked, peers: [tracker id] } to cut or heal only the links to those peers
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { Codes, UnavailableError, ValidationError } from "../../../core/errors.js";
import { checkEvent, type Replicator } from "./replicator.js";
import { SignatureVerifier } from "./signing.js";
import { TRACKER } from "../config.js";


export interface ReplicationRouteOptions {
  secret: string;
  /** Enables the partition switch (tests only). */
  testSwitches?: boolean;
  /** Login attempts made on another tracker, for this one's throttle. */
  onLoginAttempts?: (body: unknown) => void;
}

export function replicationRouter(replicator: Replicator, options: ReplicationRouteOptions): express.Router {
  const router = express.Router();
  const verifier = new SignatureVerifier(options.secret);
  const raw = express.raw({ type: () => true, limit: TRACKER.REPLICATION_BODY_LIMIT });

  const fromOperator = (req: Request, _res: Response, next: NextFunction) => {
    const body = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
    verifier.verify(req.headers, req.method, req.originalUrl, body);
    next();
  };
  // Deliveries between trackers, which the partition switch cuts.
  const signed = (req: Request, res: Response, next: NextFunction) => {
    fromOperator(req, res, () => {
      if (replicator.blocked) throw new UnavailableError("replication blocked by the test switch", Codes.REPLICATION_BLOCKED);
      next();
    });
  };

  router.post("/events", raw, signed, async (req, res) => {
    const batch = parseBatch((req.body as Buffer).toString("utf8"));
    const result = await replicator.receive(batch.events);
    // A gap means pushes were lost: pull the missing events from the sender.
    if (result.gap) void replicator.linkFor(batch.from)?.catchUp();
    res.json({ heads: result.heads });
  });

  router.post("/logins", raw, signed, (req, res) => {
    let body: unknown;
    try {
      body = JSON.parse((req.body as Buffer).toString("utf8"));
    } catch {
      throw new ValidationError("replication body is not valid JSON", Codes.MALFORMED_JSON);
    }
    options.onLoginAttempts?.(body);
    res.status(204).end();
  });

  router.get("/events", raw, signed, async (req, res) => {
    const origin = typeof req.query.origin === "string" ? req.query.origin : "";
    const after = Number(req.query.after ?? 0);
    const limit = Number(req.query.limit ?? TRACKER.PULL_DEFAULT_LIMIT);
    if (origin === "" || !Number.isInteger(after) || after < 0 || !Number.isInteger(limit) || limit < 1) {
      throw new ValidationError("origin, after and limit are required: origin=<tracker id>&after=<seq>&limit=<n>", Codes.BAD_REPLICATION_QUERY);
    }
    res.json({ origin, events: await replicator.eventsAfter(origin, after, limit) });
  });

  router.get("/heads", raw, signed, async (_req, res) => {
    res.json({ trackerId: replicator.origin, heads: await replicator.currentHeads() });
  });

  // Signed, as it reads the whole state (anyone else has /health's kept digest); not a delivery, so a cut link does not stop it.
  router.get("/digest", raw, fromOperator, async (_req, res) => {
    // With the heads it was computed at, so another tracker can tell a divergence from events in flight.
    res.json({ trackerId: replicator.origin, ...(await replicator.stableDigest()) });
  });

  if (options.testSwitches) {
    router.post("/test/partition", express.json(), (req, res) => {
      const { blocked, peers } = req.body as { blocked?: unknown; peers?: unknown };
      if (Array.isArray(peers)) {
        for (const peer of peers) {
          if (blocked === true) replicator.cutPeers.add(String(peer));
          else replicator.cutPeers.delete(String(peer));
        }
      } else {
        replicator.blocked = blocked === true;
      }
      if (blocked !== true) for (const link of replicator.links) void link.kick();
      res.json({ blocked: replicator.blocked, cutPeers: [...replicator.cutPeers] });
    });
  }
  return router;
}

function parseBatch(text: string): { from: string; events: ReturnType<typeof checkEvent>[] } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError("replication body is not valid JSON", Codes.MALFORMED_JSON);
  }
  const { from, events } = (body ?? {}) as { from?: unknown; events?: unknown };
  if (typeof from !== "string" || !Array.isArray(events)) {
    throw new ValidationError("replication body must be { from, events: [...] }", Codes.BAD_REPLICATION_BATCH);
  }
  return { from, events: events.map(checkEvent) };
}
