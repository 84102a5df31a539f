import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

/**
 * The node arguments that run a bench's child program (a downloader, an
 * agent) as plain JavaScript, as an installed program would run (tsx alone
 * adds ~30 MiB of RSS): the entry is bundled with esbuild (already installed
 * for tsx), its packages left to node_modules. Falls back to tsx, saying so.
 *
 * @param entry path from the repository root, e.g. "bench/download-runner.ts"
 * @param root the checkout holding `entry`: this one, or another (a commit to compare with, extracted with `git archive`)
 */
export async function bundled(entry: string, name: string, root = ROOT): Promise<string[]> {
  // In this checkout's .tmp/ (ignored by git), not in node_modules, which checkouts may share.
  const out = join(ROOT, ".tmp", "bench", `${name}.mjs`);
  try {
    const { build } = await import("esbuild");
    await build({
      entryPoints: [join(root, entry)],
      bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", outfile: out, logLevel: "error",
    });
    return [out];
  } catch (error) {
    console.error(`could not bundle ${entry} (${(error as Error).message}); running it with tsx, RSS includes tsx`);
    return ["--import", "tsx", join(root, entry)];
  }
}
