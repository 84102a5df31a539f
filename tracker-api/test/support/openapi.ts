import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";

export const OPENAPI_PATH = fileURLToPath(new URL("../../../openapi.yaml", import.meta.url));

type Spec = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };
let dereferenced: Promise<Spec> | undefined;

function spec(): Promise<Spec> {
  dereferenced ??= SwaggerParser.dereference(parse(readFileSync(OPENAPI_PATH, "utf8"))) as unknown as Promise<Spec>;
  return dereferenced;
}

/** Checks a response body against the schema openapi.yaml declares for that operation and status. */
export async function assertMatchesSpec(path: string, method: string, status: number, body: unknown): Promise<void> {
  const operation = (await spec()).paths[path]?.[method.toLowerCase()];
  if (!operation) throw new Error(`openapi.yaml has no ${method} ${path}`);
  const response = operation.responses[String(status)];
  if (!response) throw new Error(`openapi.yaml declares no ${status} for ${method} ${path}`);
  const schema = response.content?.["application/json"]?.schema;
  if (!schema) {
    if (body !== undefined && body !== "" && !(typeof body === "object" && body !== null && Object.keys(body).length === 0)) {
      throw new Error(`${method} ${path} ${status} has no schema but a body was sent`);
    }
    return;
  }
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // OpenAPI 3.0 keywords that are not JSON Schema
  ajv.addKeyword("example");
  const validate = ajv.compile(schema);
  if (!validate(body)) {
    throw new Error(`${method} ${path} ${status} body does not match openapi.yaml: ${ajv.errorsText(validate.errors)}`);
  }
}
