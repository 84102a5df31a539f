import { CLIENT } from "../src/config.js";
import { testTunables } from "../../core/test/support/tunables.js";

testTunables({
  program: "client",
  name: "CLIENT",
  config: CLIENT,
  configFile: new URL("../src/config.ts", import.meta.url),
  sources: [new URL("../src/", import.meta.url)],
  allowed: [
    // Exit codes are the command's interface (README), not tunables.
    "export const USAGE_EXIT_CODE = 2;",
    "const PIPE_FAILED_EXIT_CODE = 1;",
    // 99.9 %: a download not yet complete never shows 100.0 %; a display rule, not a tunable.
    "return `${(done < total ? Math.min(percent, 99.9) : percent).toFixed(1)}%`;",
  ],
});
