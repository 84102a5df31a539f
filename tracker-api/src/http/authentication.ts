import type { Request } from "express";
import type { TrackerDb } from "../db/open.js";
import { authenticate, type Actor } from "../services/sessions.js";

/** tsoa's hook for @Security("bearer") (authenticationModule in tsoa.json). */
export async function expressAuthentication(request: Request, _securityName: string, _scopes?: string[]): Promise<Actor> {
  return authenticate(request.app.locals.db as TrackerDb, request.headers.authorization);
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
