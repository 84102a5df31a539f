/**
 * Every tunable of the client (the `client` command: its shell and its
 * one-shot commands to an agent), with the reason for its value. Frozen: a
 * value is changed here, never where it is used. The agent the client drives
 * has its own (peer-agent/src/config.ts, AGENT).
 */
export const CLIENT = Object.freeze({
  /** How long closing the node may take after quit or a signal before the process leaves anyway: logging out and stopping downloads take well under a second unless a tracker hangs. */
  CLOSE_TIMEOUT_MS: 10_000,
  /** Files up to this size hash too quickly for a progress bar to help (16 MiB hash in well under a second). */
  UPLOAD_PROGRESS_MIN_BYTES: 16 * 1024 * 1024,
  /** Characters of the hashing progress bar: leaves room on an 80-column terminal for the bytes, speed and eta after it. */
  UPLOAD_PROGRESS_BAR_WIDTH: 30,
  /** Commands remembered by the shell's history (up arrow), within one session. */
  HISTORY_SIZE: 500,
});
