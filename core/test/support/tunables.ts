import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Checks shared by the config tests of the tracker, the agent and the client:
 * every tunable of a program lives in its frozen config object, says why it
 * has its value, is used, and no tunable is left as a literal elsewhere.
 */

/** The keys of `config` (exported as `name` from `configFile`) whose line is not right after a comment. */
export async function tunablesWithoutReason(configFile: URL, name: string, config: object): Promise<string[]> {
  const source = await readFile(configFile, "utf8");
  const start = source.indexOf(`export const ${name} = Object.freeze({`);
  if (start < 0) return [`${name} is not declared as Object.freeze({ … }) in ${fileURLToPath(configFile)}`];
  const lines = source.slice(start).split("\n");
  return Object.keys(config).filter((key) => {
    const at = lines.findIndex((line) => line.startsWith(`  ${key}: `));
    return at <= 0 || !/\*\/\s*$/.test(lines[at - 1]!);
  });
}

/** Every `.ts` file under `dir`, tests and generated code left out. */
export async function sourceFiles(dir: URL): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      if (entry.name === "test" || entry.name === "generated" || entry.name === "node_modules") continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) await walk(child);
      else if (entry.name.endsWith(".ts")) found.push(child);
    }
  };
  await walk(fileURLToPath(dir));
  return found.sort();
}

/** The keys of `config` that no source file under `dirs` reads as `name.KEY`. */
export async function unusedTunables(dirs: URL[], name: string, config: object): Promise<string[]> {
  const sources = await Promise.all((await Promise.all(dirs.map(sourceFiles))).flat().map((file) => readFile(file, "utf8")));
  const all = sources.join("\n");
  return Object.keys(config).filter((key) => !new RegExp(`\\b${name}\\.${key}\\b`).test(all));
}

/**
 * Shapes a tunable takes when it is written where it is used instead of in the
 * config: a module constant set to a number, a timer's delay, a numeric
 * default (`?? 5000`), an option or parameter named like a duration, size or
 * limit set to a number, a number bounding Math.min/max. 0 and 1 are no
 * tunables (an empty count, a first value, "no timeout").
 */
const STRAY_SHAPES: { shape: string; pattern: RegExp }[] = [
  { shape: "module constant", pattern: /^(export )?const [A-Z][A-Z0-9_]*(: \w+)? = [\d(]/ },
  { shape: "timer delay", pattern: /\b(setTimeout|setInterval)\(.*,\s*(?!(0|1)\s*\))\d[\d_.]*\s*\)/ },
  { shape: "numeric default", pattern: /\?\?\s*(?!(0|1)(?![\d_.]))\d/ },
  {
    shape: "numeric option",
    pattern: /(Ms|MS|Timeout|Bytes|[sS]ize|Seconds|Interval|Limit|Slots|Entries|Window|Depth|Batch|Streams|Queued|[cC]onnections|[mM]ax\w*)\??\s*[:=]\s*(?!(0|1)(?![\d_.]))\d/,
  },
  { shape: "Math.min/max bound", pattern: /Math\.(min|max)\([^()]*(?<![\w.])\d{2}[\d_]*(?![\d_.])/ },
];

/**
 * Lines under `dirs` (config files and lines in `allowed` left out) that look
 * like a tunable written where it is used, as `file:line: text`. `allowed`
 * holds exact trimmed lines that are not tunables, each with its reason at
 * the caller.
 */
export async function strayTunables(dirs: URL[], options: { exclude: URL[]; allowed: readonly string[] }): Promise<string[]> {
  const excluded = new Set(options.exclude.map((url) => fileURLToPath(url)));
  const found: string[] = [];
  for (const file of (await Promise.all(dirs.map(sourceFiles))).flat()) {
    if (excluded.has(file)) continue;
    const lines = (await readFile(file, "utf8")).split("\n");
    lines.forEach((line, index) => {
      const text = line.trim();
      if (/^(\/\/|\*|\/\*)/.test(text) || options.allowed.includes(text)) return;
      const hit = STRAY_SHAPES.find(({ pattern }) => pattern.test(line));
      if (hit) found.push(`${file}:${index + 1}: ${hit.shape}: ${text}`);
    });
  }
  return found;
}

/**
 * The tests of a program's config module: frozen (nested objects too), every
 * entry with its reason and used, no tunable written where it is used in
 * `sources` (the config file left out; `allowed` lines, each with its reason
 * at the caller, are no tunables).
 */
export function testTunables(options: {
  program: string;
  name: string;
  config: object;
  configFile: URL;
  sources: URL[];
  allowed: readonly string[];
}): void {
  const { program, name, config, configFile, sources, allowed } = options;
  test(`the ${program}'s tunables are frozen: a value is changed in its config, never where it is used`, () => {
    assert.ok(Object.isFrozen(config));
    for (const value of Object.values(config)) if (typeof value === "object" && value !== null) assert.ok(Object.isFrozen(value));
    const [first] = Object.keys(config);
    assert.throws(() => {
      (config as Record<string, unknown>)[first!] = 1;
    }, TypeError);
  });

  test(`every tunable of the ${program} says why it has its value`, async () => {
    assert.deepEqual(await tunablesWithoutReason(configFile, name, config), []);
  });

  test(`every tunable of the ${program} is used`, async () => {
    assert.deepEqual(await unusedTunables(sources, name, config), []);
  });

  test(`no tunable of the ${program} is written where it is used instead of in its config`, async () => {
    assert.deepEqual(await strayTunables(sources, { exclude: [configFile], allowed }), []);
  });
}
