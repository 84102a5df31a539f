import { Codes, ValidationError } from "../../core/errors.js";

/**
 * Splits a command line into words the way a shell would, minus expansion:
 * whitespace separates words; "double" and 'single' quotes keep spaces inside
 * a word; a backslash escapes the next character outside quotes and `"` or `\`
 * inside double quotes. Quoted and bare parts next to each other form one word
 * (`a"b c"` is `ab c`), and `""` is an empty word.
 */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === "\\" && (line[i + 1] === '"' || line[i + 1] === "\\")) word += line[++i];
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (char === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote) {
    throw new ValidationError(`unterminated ${quote} quote; close it or escape it with \\`, Codes.UNTERMINATED_QUOTE);
  }
  if (inWord) words.push(word);
  return words;
}
