import type { Request, RequestHandler, Response } from "express";
import helmet from "helmet";

/**
 * helmet's headers on every response (nosniff, frame denial, no referrer, ...).
 * The API answers only JSON, so its Content-Security-Policy allows nothing;
 * Swagger UI at /docs loads its own scripts and styles from this server and
 * sets inline styles, so /docs gets a policy that allows exactly that. No
 * `upgrade-insecure-requests`: a tracker on a LAN is reached over plain HTTP.
 * Both sets of headers are the same on every response (no nonces), so each is
 * computed once and then set as it is.
 */
export function securityHeaders(): RequestHandler {
  const api = once(helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  }));
  const docs = once(helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'", "data:"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  }));
  return (req, res, next) => (req.path === "/docs" || req.path.startsWith("/docs/") ? docs : api)(req, res, next);
}

/**
 * The headers `middleware` sets and removes, found by running it once on a
 * stand-in response, then applied as they are on every response. A middleware
 * that does not finish at once is used as it is.
 */
function once(middleware: RequestHandler): RequestHandler {
  const set: [string, number | string | readonly string[]][] = [];
  const removed: string[] = [];
  const probe = { setHeader: (name: string, value: number | string | readonly string[]) => set.push([name, value]), removeHeader: (name: string) => removed.push(name) };
  let finished = false;
  void middleware({ method: "GET", headers: {} } as Request, probe as unknown as Response, () => { finished = true; });
  if (!finished) return middleware;
  return (_req, res, next) => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}
