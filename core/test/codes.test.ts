import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { AppError, Codes, toProblem } from "../errors.js";
import { sourceFiles } from "./support/tunables.js";

const ROOT = new URL("../../", import.meta.url);
const REGISTRY = new URL("core/errors.ts", ROOT);
/** tsoa reads the OpenAPI examples from literals, so these spell their codes out (each must still be in the registry). */
const OPENAPI_EXAMPLES = new URL("tracker-api/src/http/problem.ts", ROOT);
/** Codes of Node (`ENOENT`, `EAI_AGAIN`), undici (`UND_ERR_*`) and Prisma (`P2025`) that the programs check for: theirs, not ours. */
const FOREIGN = /^(E[A-Z0-9_]+|UND_ERR\w*|P\d{4})$/;

const registered = new Set<string>(Object.values(Codes));

async function sources(): Promise<{ file: string; lines: string[] }[]> {
  const dirs = ["tracker-api/src/", "peer-agent/src/", "cli/src/", "core/"].map((dir) => new URL(dir, ROOT));
  const files = (await Promise.all(dirs.map(sourceFiles))).flat();
  return Promise.all(files.map(async (file) => ({ file, lines: (await readFile(file, "utf8")).split("\n") })));
}

/** The error codes a line spells out as string literals: SCREAMING_SNAKE ones, registered ones, and any in a code's place. */
function codeLiterals(line: string): string[] {
  if (/^\s*(\/\/|\*|\/\*)/.test(line)) return [];
  // An environment variable named in a Prisma schema's env("...") is not a code.
  line = line.replace(/env\(["'`][A-Z][A-Z0-9_]*["'`]\)/g, "");
  const found = new Set<string>();
  for (const [, text] of line.matchAll(/["'`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)["'`]/g)) {
    if (text!.includes("_") || registered.has(text!)) found.add(text!);
  }
  // A one-word code where codes go: `code: "X"`, `code === "X"`, the last argument of an error's constructor.
  for (const pattern of [/code\s*(?::|[!=]==?)\s*["'`]([A-Z]+)["'`]/g, /Error\(.*,\s*["'`]([A-Z]+)["'`]\s*[,)]/g, /^\s*["'`]([A-Z]+)["'`],?\s*$/g]) {
    for (const [, text] of line.matchAll(pattern)) found.add(text!);
  }
  return [...found].filter((code) => registered.has(code) || !FOREIGN.test(code));
}

test("the error codes are one frozen registry in which each code is its own name", () => {
  assert.ok(Object.isFrozen(Codes));
  for (const [key, value] of Object.entries(Codes)) assert.equal(value, key);
});

test("every error code says its HTTP status (or that it has none) and when it happens, and every status has a title", async () => {
  const lines = (await readFile(REGISTRY, "utf8")).split("\n");
  for (const code of Object.keys(Codes)) {
    const at = lines.findIndex((line) => line === `  ${code}: "${code}",`);
    assert.ok(at > 0, `${code} is not in the registry's block`);
    const comment = /^\s*\/\*\* (?:(\d{3})\b|\().+\*\/$/.exec(lines[at - 1]!);
    assert.ok(comment, `${code} has no one-line comment starting with its status`);
    if (comment[1] !== undefined) {
      const status = Number(comment[1]);
      assert.notEqual(toProblem(new AppError(status, code, "")).title, "Error", `status ${status} of ${code} has no title`);
    }
  }
});

test("no error code is spelled out where it is raised or checked: every one comes from the registry", async () => {
  const stray: string[] = [];
  for (const { file, lines } of await sources()) {
    if (file === REGISTRY.pathname) continue;
    lines.forEach((line, index) => {
      for (const code of codeLiterals(line)) {
        if (file === OPENAPI_EXAMPLES.pathname && registered.has(code)) continue;
        stray.push(`${file}:${index + 1}: "${code}"${registered.has(code) ? " (use Codes." + code + ")" : " (not in the registry)"}`);
      }
    });
  }
  assert.deepEqual(stray, []);
});

test("every error code of the registry is raised or checked somewhere", async () => {
  const all = (await sources()).map(({ lines }) => lines.join("\n")).join("\n");
  const unused = Object.keys(Codes).filter((code) => !new RegExp(`\\bCodes\\.${code}\\b`).test(all));
  assert.deepEqual(unused, []);
});

test("every error code the OpenAPI documents show is in the registry", async () => {
  const unknown: string[] = [];
  for (const spec of ["openapi.yaml", "peer-agent/openapi.yaml"]) {
    const text = await readFile(new URL(spec, ROOT), "utf8");
    for (const [, code] of text.matchAll(/^\s+code: ([A-Z][A-Z0-9_]*)\s*$/gm)) {
      if (!registered.has(code!)) unknown.push(`${spec}: ${code}`);
    }
  }
  assert.deepEqual(unknown, []);
});
