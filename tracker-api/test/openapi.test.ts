import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import SwaggerParser from "@apidevtools/swagger-parser";
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
