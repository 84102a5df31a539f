/** Sizes as people read them, for the CLI and for the agents' messages. */

const UNITS = ["KiB", "MiB", "GiB", "TiB"] as const;

/** Bytes in binary units: `512 B`, `1.5 KiB`, `87.3 MiB`, `1.0 GiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes || 0))} B`;
  let value = bytes;
  let unit: string = "B";
  for (const next of UNITS) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  // 1023.96 KiB would round to "1024.0 KiB": show it as the next unit instead.
  if (value >= 1023.95 && unit !== UNITS[UNITS.length - 1]) {
    value /= 1024;
    unit = UNITS[UNITS.indexOf(unit as (typeof UNITS)[number]) + 1]!;
  }
  return `${value.toFixed(1)} ${unit}`;
}
