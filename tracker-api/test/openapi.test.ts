import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";
import { OPENAPI_PATH } from "./support/openapi.js";

const run = promisify(execFile);

test("openapi.yaml is a valid OpenAPI document", async () => {
  const document = parse(await readFile(OPENAPI_PATH, "utf8"));
  await SwaggerParser.validate(document);
  assert.equal(document.openapi, "3.0.0");
});

test("the committed openapi.yaml matches what the controllers generate", async () => {
  const dir = await mkdtemp(join(tmpdir(), "openapi-"));
  try {
    const config = JSON.parse(await readFile("tsoa.json", "utf8"));
    config.spec.outputDirectory = dir;
    const configPath = join(dir, "tsoa.json");
    await writeFile(configPath, JSON.stringify(config));
    await run(process.execPath, ["node_modules/tsoa/dist/cli.js", "spec", "-c", configPath], { timeout: 60_000 });
    const fresh = await readFile(join(dir, "openapi.yaml"), "utf8");
    const committed = await readFile(OPENAPI_PATH, "utf8");
    assert.ok(fresh === committed, "openapi.yaml is stale: run `npm run spec` and commit it");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

type SchemaObject = { $ref?: string; example?: unknown; properties?: Record<string, SchemaObject>; items?: SchemaObject; enum?: unknown[] };
type Operation = {
  summary?: string;
  description?: string;
  responses: Record<string, { content?: Record<string, { schema?: SchemaObject; examples?: Record<string, unknown>; example?: unknown }> }>;
};

/** A schema is exemplified by its own example, a referenced schema's, an enum, or examples on every property. */
function hasExample(schema: SchemaObject, schemas: Record<string, SchemaObject>, seen = new Set<string>()): boolean {
  if (schema.example !== undefined || schema.enum !== undefined) return true;
  if (schema.$ref) {
    const name = schema.$ref.replace("#/components/schemas/", "");
    if (seen.has(name)) return false;
    seen.add(name);
    return schemas[name] !== undefined && hasExample(schemas[name], schemas, seen);
  }
  if (schema.items) return hasExample(schema.items, schemas, seen);
  const properties = Object.values(schema.properties ?? {});
  return properties.length > 0 && properties.every((property) => hasExample(property, schemas, new Set(seen)));
}

test("every operation has a summary and a description, and every success body an example", async () => {
  const document = parse(await readFile(OPENAPI_PATH, "utf8")) as { paths: Record<string, Record<string, Operation>> };
  const missing: string[] = [];
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const name = `${method.toUpperCase()} ${path}`;
      if (!operation.summary?.trim()) missing.push(`${name}: summary`);
      if (!operation.description?.trim()) missing.push(`${name}: description`);
      for (const [status, response] of Object.entries(operation.responses)) {
        const body = response.content?.["application/json"];
        if (!status.startsWith("2") || !body) continue;
        if (body.example === undefined && Object.keys(body.examples ?? {}).length === 0) missing.push(`${name} ${status}: example`);
      }
    }
  }
  assert.deepEqual(missing, []);
});

test("every schema in openapi.yaml has an example, on itself or on all of its properties", async () => {
  const document = parse(await readFile(OPENAPI_PATH, "utf8")) as { components: { schemas: Record<string, SchemaObject> } };
  const schemas = document.components.schemas;
  const missing = Object.entries(schemas).filter(([, schema]) => !hasExample(schema, schemas)).map(([name]) => name);
  assert.deepEqual(missing, []);
});

test("every example in openapi.yaml is valid against its own schema", async () => {
  type Content = { schema: object; examples?: Record<string, { value: unknown }> };
  type Spec = {
    components: { schemas: Record<string, SchemaObject> };
    paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, Content> }> }>>;
  };
  const document = (await SwaggerParser.dereference(parse(await readFile(OPENAPI_PATH, "utf8")))) as unknown as Spec;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addKeyword("example");
  const invalid: string[] = [];
  const check = (where: string, schema: object, example: unknown) => {
    const validate = ajv.compile(schema);
    if (!validate(example)) invalid.push(`${where}: ${ajv.errorsText(validate.errors)}`);
  };
  for (const [name, schema] of Object.entries(document.components.schemas)) {
    if (schema.example !== undefined) check(`schema ${name}`, schema, schema.example);
  }
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const [type, content] of Object.entries(response.content ?? {})) {
          for (const [label, example] of Object.entries(content.examples ?? {})) {
            check(`${method.toUpperCase()} ${path} ${status} ${type} ${label}`, content.schema, example.value);
          }
        }
      }
    }
  }
  assert.deepEqual(invalid, []);
});

type Parameter = { in: string; name: string; example?: unknown; examples?: unknown; schema?: SchemaObject };
type DocumentedOperation = {
  operationId?: string;
  parameters?: Parameter[];
  responses: Record<string, { content?: Record<string, { examples?: Record<string, { value: { status?: number; code?: string } }> }> }>;
};
const operationsOf = async () => {
  const document = parse(await readFile(OPENAPI_PATH, "utf8")) as { paths: Record<string, Record<string, DocumentedOperation>> };
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })));
};

test("every operation has its own operationId", async () => {
  const ids = (await operationsOf()).map(({ operation }) => operation.operationId);
  assert.ok(ids.every((id) => typeof id === "string" && id.length > 0));
  assert.deepEqual(ids.filter((id, index) => ids.indexOf(id) !== index), []);
});

test("every error is documented as application/problem+json with examples whose status and code belong to it", async () => {
  const wrong: string[] = [];
  for (const { name, operation } of await operationsOf()) {
    for (const [status, response] of Object.entries(operation.responses)) {
      if (Number(status) < 400) continue;
      const types = Object.keys(response.content ?? {});
      if (types.join() !== "application/problem+json") wrong.push(`${name} ${status}: ${types.join(", ") || "no content"}`);
      const examples = Object.values(response.content?.["application/problem+json"]?.examples ?? {});
      if (examples.length === 0) wrong.push(`${name} ${status}: no example`);
      for (const { value } of examples) {
        if (value.status !== Number(status)) wrong.push(`${name} ${status}: example ${value.code} has status ${value.status}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

test("every write that takes an Idempotency-Key documents BAD_IDEMPOTENCY_KEY (400) and IDEMPOTENCY_KEY_REUSED (422)", async () => {
  const missing: string[] = [];
  for (const { name, operation } of await operationsOf()) {
    if (!operation.parameters?.some((parameter) => parameter.in === "header" && parameter.name === "Idempotency-Key")) continue;
    const codes = (status: string) =>
      Object.values(operation.responses[status]?.content?.["application/problem+json"]?.examples ?? {}).map(({ value }) => value.code);
    if (!codes("400").includes("BAD_IDEMPOTENCY_KEY")) missing.push(`${name} 400 BAD_IDEMPOTENCY_KEY`);
    if (!codes("422").includes("IDEMPOTENCY_KEY_REUSED")) missing.push(`${name} 422 IDEMPOTENCY_KEY_REUSED`);
  }
  assert.deepEqual(missing, []);
});

test("no cursor parameter has an example, so Swagger UI's Try it out does not send one", async () => {
  const prefilled: string[] = [];
  for (const { name, operation } of await operationsOf()) {
    for (const parameter of operation.parameters ?? []) {
      if (parameter.name !== "cursor") continue;
      if (parameter.example !== undefined || parameter.examples !== undefined || parameter.schema?.example !== undefined) prefilled.push(name);
    }
  }
  assert.deepEqual(prefilled, []);
});
