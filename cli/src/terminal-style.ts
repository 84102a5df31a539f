/**
 * Escape codes only where they mean something: styling (bold, colours) on a
 * terminal and never when NO_COLOR is set (no-color.org); redrawn progress
 * bars on a terminal. Output piped to a file or another program stays plain.
 */
export function canStyle(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

export function bold(text: string, styled: boolean): string {
  return styled ? `\u001b[1m${text}\u001b[0m` : text;
}
