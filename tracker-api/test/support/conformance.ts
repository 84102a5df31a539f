import type { ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import express from "express";
import { parse } from "yaml";
import { apiRoutes, type ApiRoute } from "../../src/http/wire.js";
import { OPENAPI_PATH } from "./openapi.js";

type Content = Record<string, { schema?: object }>;
type Operation = { responses: Record<string, { content?: Content; headers?: Record<string, unknown> }> };
type Spec = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object> } };

/**
 * Answers any request may get although no operation lists them (see the
 * document's description): they must still be problem documents.
 */
const ANY_REQUEST = new Set(["400 BAD_PERCENT_ENCODING", "400 MALFORMED_JSON", "413 PAYLOAD_TOO_LARGE"]);
/** Served beside the API, not part of it. */
const NOT_THE_API = /^\/(docs|openapi\.json|replication)(\/|$)/;

let loaded: Promise<{ spec: Spec; routes: ApiRoute[] }> | undefined;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addKeyword("example");
const validators = new Map<object, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) validators.set(schema, (validate = ajv.compile(schema)));
  return validate;
}

/**
 * Wraps a tracker app so that every answer it gives is checked against
 * openapi.yaml as it is sent: the path and method are an operation of the
 * document (or the answer is the 404/405 problem for one that is not), the
 * status is one the operation documents, the content type is one documented
 * for that status, and the body is valid against its schema (ajv). `violations`
 * lists every answer that is not; the tests' tracker fails its file with them.
 */
export async function conformanceChecked(app: express.Express): Promise<{ app: express.Express; violations: string[] }> {
  loaded ??= (async () => {
    const spec = (await SwaggerParser.dereference(parse(readFileSync(OPENAPI_PATH, "utf8")))) as unknown as Spec;
    return { spec, routes: apiRoutes(spec as unknown as { paths: Record<string, Record<string, unknown>> }) };
  })();
  const { spec, routes } = await loaded;
  const violations: string[] = [];
  const outer = express();
  outer.disable("x-powered-by");
  outer.use((req, res, next) => {
    const body = captureBody(res);
    // As asked: a mounted router (Swagger UI under /docs) rewrites req.url while it runs.
    const asked = { method: req.method, path: req.path };
    res.once("finish", () => {
      const problem = check(spec, routes, asked, res, body());
      if (problem) violations.push(problem);
    });
    next();
  });
  outer.use(app);
  return { app: outer, violations };
}

function captureBody(res: ServerResponse): () => string {
  const chunks: Buffer[] = [];
  const keep = (chunk: unknown, encoding?: unknown) => {
    if (typeof chunk === "string") chunks.push(Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8"));
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((...args: unknown[]) => {
    keep(args[0], args[1]);
    return write(...args);
  }) as ServerResponse["write"];
  res.end = ((...args: unknown[]) => {
    if (typeof args[0] !== "function") keep(args[0], args[1]);
    return end(...args);
  }) as ServerResponse["end"];
  return () => Buffer.concat(chunks).toString("utf8");
}

function check(spec: Spec, routes: ApiRoute[], { method, path }: { method: string; path: string }, res: ServerResponse, text: string): string | undefined {
  if (NOT_THE_API.test(path)) return undefined;
  const status = res.statusCode;
  const type = String(res.getHeader("content-type") ?? "").split(";")[0]!.trim();
  const where = `${method} ${path} → ${status} ${type || "(no content type)"}`;
  let body: unknown;
  if (type.endsWith("json") && method !== "HEAD" && text !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      return `${where}: body is not JSON`;
    }
  }
  const asProblem = (why: string): string | undefined => {
    if (type !== "application/problem+json") return `${where}: ${why}, and not as application/problem+json`;
    if (method === "HEAD") return undefined;
    const validate = validatorFor(spec.components.schemas.Problem!);
    return validate(body) ? undefined : `${where}: not a Problem: ${ajv.errorsText(validate.errors)}`;
  };
  const code = (body as { code?: string } | undefined)?.code;

  const matching = routes.filter((route) => route.pattern.test(path));
  if (matching.length === 0) {
    if (status === 404 && code === "ROUTE_NOT_FOUND") return asProblem("answered for a path the API does not have");
    if (ANY_REQUEST.has(`${status} ${code}`)) return asProblem("answered for any request");
    return `${where}: a path that openapi.yaml does not have`;
  }
  const route = matching.find((candidate) => candidate.methods.includes(method));
  if (!route) {
    if (ANY_REQUEST.has(`${status} ${code}`)) return asProblem("answered for any request");
    if (status !== 405) return `${where}: ${method} is not an operation of ${matching[0]!.template}; expected 405`;
    const allow = [...new Set(matching.flatMap((candidate) => candidate.methods))].join(", ");
    if (res.getHeader("allow") !== allow) return `${where}: Allow is "${String(res.getHeader("allow"))}", not "${allow}"`;
    return asProblem("a 405");
  }
  const operation = spec.paths[route.template]![method === "HEAD" ? "get" : method.toLowerCase()]!;
  const documented = operation.responses[String(status)];
  if (!documented) {
    if (status >= 500 || ANY_REQUEST.has(`${status} ${code}`)) return asProblem("an undocumented answer any request may get");
    return `${where}: status ${status}${code ? ` (${code})` : ""} is not documented for ${method} ${route.template}`;
  }
  const types = Object.keys(documented.content ?? {});
  if (types.length === 0) {
    return text === "" || method === "HEAD" ? undefined : `${where}: a body where openapi.yaml documents none`;
  }
  if (!types.includes(type)) return `${where}: content type is not one documented (${types.join(", ")})`;
  if (method === "HEAD") return undefined;
  const schema = documented.content![type]!.schema;
  if (!schema) return undefined;
  const validate = validatorFor(schema);
  return validate(body) ? undefined : `${where}: body does not match openapi.yaml: ${ajv.errorsText(validate.errors)}`;
}
