import type { RequestHandler } from "express";
import helmet from "helmet";

/**
 * helmet's headers on every response (nosniff, frame denial, no referrer, ...).
 * The API answers only JSON, so its Content-Security-Policy allows nothing;
 * Swagger UI at /docs loads its own scripts and styles from this server and
 * sets inline styles, so /docs gets a policy that allows exactly that. No
 * `upgrade-insecure-requests`: a tracker on a LAN is reached over plain HTTP.
 */
export function securityHeaders(): RequestHandler {
  const api = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  const docs = helmet({
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
  });
  return (req, res, next) => (req.path === "/docs" || req.path.startsWith("/docs/") ? docs : api)(req, res, next);
}
