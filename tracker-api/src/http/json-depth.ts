/**
 * Whether a JSON text nests objects and arrays deeper than `limit`, read in
 * one pass over its bytes before it is parsed. A body nested thousands deep
 * parses, but then overflows the stack of whatever walks it recursively (a
 * validator echoing it, JSON.stringify of an error): it is refused up front.
 */
export function nestsDeeperThan(text: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const byte = text[i]!;
    if (inString) {
      if (byte === 0x5c) i++; // backslash: the next byte is escaped
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > limit) return true;
    } else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return false;
}
