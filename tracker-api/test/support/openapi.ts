import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";

export const OPENAPI_PATH = fileURLToPath(new URL("../../../openapi.yaml", import.meta.url));

type Spec = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };

/**
 * A checker of response bodies against the schemas an OpenAPI document
 * declares per operation and status (the tracker's openapi.yaml, or the peer
 * agent's spec beside its code).
 */
export function createSpecChecker(specPath: string) {
  let dereferenced: Promise<Spec> | undefined;
  const spec = (): Promise<Spec> => {
    dereferenced ??= SwaggerParser.dereference(parse(readFileSync(specPath, "utf8"))) as unknown as Promise<Spec>;
    return dereferenced;
  };
  const name = specPath.split("/").slice(-2).join("/");
  /** `mediaType` defaults to application/json, or to the one type declared (e.g. application/problem+json for errors). */
  return async function assertMatches(path: string, method: string, status: number, body: unknown, mediaType?: string): Promise<void> {
    const operation = (await spec()).paths[path]?.[method.toLowerCase()];
    if (!operation) throw new Error(`${name} has no ${method} ${path}`);
    const response = operation.responses[String(status)];
    if (!response) throw new Error(`${name} declares no ${status} for ${method} ${path}`);
    const declared = Object.keys(response.content ?? {});
    mediaType ??= declared.length === 1 ? declared[0]! : "application/json";
    const schema = response.content?.[mediaType]?.schema;
    if (!schema) {
      if (body !== undefined && body !== "" && !(typeof body === "object" && body !== null && Object.keys(body).length === 0)) {
        throw new Error(`${method} ${path} ${status} has no ${mediaType} schema in ${name} but a body was sent`);
      }
      return;
    }
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    // OpenAPI 3.0 keywords that are not JSON Schema
    ajv.addKeyword("example");
    const validate = ajv.compile(schema);
    if (!validate(body)) {
      throw new Error(`${method} ${path} ${status} body does not match ${name}: ${ajv.errorsText(validate.errors)}`);
    }
  };
}

/** Checks a response body against the schema openapi.yaml declares for that operation and status. */
export const assertMatchesSpec = createSpecChecker(OPENAPI_PATH);
