#!/usr/bin/env node
// Runs every *.test.ts beside the code it tests with node's test runner and tsx.
// Node 20's runner does not expand globs itself, so the files are listed here.
// Usage: node scripts/run-tests.mjs [area ...]   e.g. `npm test -- tracker-api`
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";

const AREAS = ["core", "tracker-api", "peer-agent", "cli", "scripts"];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith("-"));

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "generated") continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith(".test.ts")) found.push(path);
  }
  return found;
}

// An area with no code yet is skipped; a path asked for by name must exist.
const roots = wanted.length > 0 ? wanted : AREAS.filter((area) => existsSync(area));
const files = roots.flatMap((root) => (statSync(root).isDirectory() ? findTests(root) : [root])).sort();
if (files.length === 0) {
  console.error("no test files found under", roots.join(", "));
  process.exit(1);
}

// Agents started by tests keep their default state and the list of running
// agents here, never in the user's own ~/.local/state.
const stateHome = mkdtempSync(join(tmpdir(), "p2p-test-state-"));
const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", ...passThrough, ...files],
  { stdio: "inherit", env: { ...process.env, NODE_ENV: "test", XDG_STATE_HOME: stateHome } },
);
child.on("exit", (code, signal) => {
  rmSync(stateHome, { recursive: true, force: true });
  process.exit(signal ? 1 : code ?? 1);
});
