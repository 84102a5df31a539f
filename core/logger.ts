import { pino, type Logger } from "pino";

/** The trackers' and agents' logger: JSON lines, readable (pino-pretty) when the output is a terminal. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    ...(process.stdout.isTTY ? { transport: { target: "pino-pretty", options: { translateTime: "HH:MM:ss" } } } : {}),
  });
}
