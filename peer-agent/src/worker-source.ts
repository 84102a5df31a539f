/** A class or function the worker's program uses, passed by its source text. */
type WorkerBinding = (abstract new (...args: never[]) => unknown) | ((...args: never[]) => unknown);

/**
 * A worker thread's program as source text (run with `eval: true`), for the
 * agent's workers, which cannot import modules: `main` is called after each
 * of `bindings` is declared under its name (classes and functions it uses,
 * by their own source text). The names bound first are helpers that tsx and
 * esbuild may call from transpiled code (`__name` keeps function names,
 * `__require` stands for require in a bundle); in the worker they are plain.
 */
export function workerSource(main: () => void, bindings: Record<string, WorkerBinding> = {}): string {
  return [
    "const __name = (target) => target; const __require = require;",
    ...Object.entries(bindings).map(([name, value]) => `const ${name} = (${value.toString()});`),
    `(${main.toString()})();`,
  ].join("\n");
}
