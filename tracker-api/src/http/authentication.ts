import type { Request } from "express";
import { NOTICE_HEADER } from "../../../core/api-types.js";
import { chosenName } from "../replication/apply-rules.js";
import { authenticate, type Actor } from "../services/sessions.js";
import { trackerOf } from "./ioc.js";

/** tsoa's hook for @Security("bearer") (authenticationModule in tsoa.json). */
export async function expressAuthentication(request: Request, _securityName: string, _scopes?: string[]): Promise<Actor> {
  const actor = await authenticate(trackerOf(request), request.headers.authorization);
  // A renamed user is told on every answer (one line; GET /sessions/current has every notice).
  if (actor.name !== chosenName(actor.name)) {
    request.res?.setHeader(NOTICE_HEADER, `your user id is now "${actor.name}": "${chosenName(actor.name)}" was also created on another tracker during a partition (GET /sessions/current tells more)`);
  }
  return actor;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by tsoa from expressAuthentication for @Security routes. */
      user?: unknown;
    }
  }
}
