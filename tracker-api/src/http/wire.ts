import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { parse } from "yaml";
import { Codes, MethodNotAllowedError, ValidationError } from "../../../core/errors.js";
import { findPackageRoot } from "../package-root.js";

/**
 * A path that is not valid percent-encoded UTF-8 (`%ZZ`, a truncated
 * `%E0%A4%A`) is the client's error: a 400 problem, before any router tries
 * to decode it (Express's decode error would otherwise become a 500).
 */
export function rejectBadPercentEncoding(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    try {
      decodeURIComponent(req.path);
    } catch {
      return next(new ValidationError(`the path "${req.path.slice(0, 200)}" is not valid percent-encoded UTF-8`, Codes.BAD_PERCENT_ENCODING));
    }
    next();
  };
}

/** A path template of the API and the methods it answers (GET implies HEAD). */
export interface ApiRoute {
  template: string;
  pattern: RegExp;
  methods: string[];
}

/** The routes of an OpenAPI document's `paths`: `{param}` matches one path segment, case-insensitively as Express routes do. */
export function apiRoutes(spec: { paths: Record<string, Record<string, unknown>> }): ApiRoute[] {
  return Object.entries(spec.paths).map(([template, operations]) => {
    const methods = Object.keys(operations).map((method) => method.toUpperCase());
    if (methods.includes("GET")) methods.splice(methods.indexOf("GET") + 1, 0, "HEAD");
    const pattern = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
    return { template, pattern: new RegExp(`^${pattern}/?$`, "i"), methods };
  });
}

/** The committed openapi.yaml, which a test keeps equal to what the controllers generate. */
export function loadApiSpec(specPath = join(findPackageRoot(), "openapi.yaml")): { paths: Record<string, Record<string, unknown>> } {
  return parse(readFileSync(specPath, "utf8")) as { paths: Record<string, Record<string, unknown>> };
}

/**
 * For a request no route answered: when its path is one the API has with
 * other methods, a 405 problem with `Allow` listing them (RFC 9110 §15.5.6)
 * instead of a 404. The paths and methods are openapi.yaml's.
 */
export function methodNotAllowed(spec = loadApiSpec()): RequestHandler {
  const routes = apiRoutes(spec);
  return (req: Request, res: Response, next: NextFunction) => {
    const methods = [...new Set(routes.filter(({ pattern }) => pattern.test(req.path)).flatMap((route) => route.methods))];
    if (methods.length === 0 || methods.includes(req.method)) return next();
    const error = new MethodNotAllowedError(req.method, methods);
    res.setHeader("allow", error.allow);
    next(error);
  };
}
