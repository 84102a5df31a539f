import cliProgress from "cli-progress";
import type { UploadProgress } from "./commands.js";
import { formatBytes, formatSpeed } from "./format.js";
import { CLIENT } from "./config.js";

/**
 * A progress bar for hashing a file before it is shared, drawn on a terminal
 * and only for files larger than 16 MiB; it disappears when hashing ends.
 */
export function createUploadProgress(stream: NodeJS.WriteStream, now: () => number = Date.now): UploadProgress {
  let bar: cliProgress.SingleBar | undefined;
  const startedAt = now();
  const payload = (done: number, size: number) => {
    const seconds = (now() - startedAt) / 1000;
    return { done: formatBytes(done), size: formatBytes(size), speed: formatSpeed(seconds > 0 ? done / seconds : 0) };
  };
  return {
    update(done, size) {
      if (size <= CLIENT.UPLOAD_PROGRESS_MIN_BYTES) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: "hashing [{bar}] {percentage}% | {done} of {size} | {speed} | eta {eta_formatted}",
            barsize: CLIENT.UPLOAD_PROGRESS_BAR_WIDTH,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(size, 0, payload(0, size));
      }
      bar.update(done, payload(done, size));
    },
    stop() {
      bar?.stop();
    },
  };
}
