import { Codes, ValidationError } from "./errors.js";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const RATE = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\/s)?$/i;

/**
 * Reads a transfer rate as people write one: `2M`, `500K`, `1.5MiB/s`,
 * `750000` (bytes per second; K, M, G are powers of 1024). `unlimited` (or
 * `off`, `none`) means no limit: undefined.
 */
export function parseByteRate(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^(unlimited|off|none)$/i.test(trimmed)) return undefined;
  const match = RATE.exec(trimmed);
  if (!match) {
    throw new ValidationError(`"${text}" is not a rate; write e.g. 2M (MiB/s), 500K, 0 or unlimited`, Codes.BAD_RATE);
  }
  return Math.round(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
}
