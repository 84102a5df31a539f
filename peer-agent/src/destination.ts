import { mkdir, stat } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { Codes, ConflictError, ValidationError } from "../../core/errors.js";
import { fileNameProblem } from "../../core/validation.js";

/**
 * Where a download of `fileName` should land for the user's `destination`:
 * an existing directory keeps the file's name inside it, as does a path ending
 * in `/`, which is made a directory (with its parents) when it does not exist;
 * anything else is the file path itself. The name comes from a tracker, so it is checked to be a
 * base name: it can never climb out of the directory. Existing files are never
 * overwritten.
 */
export async function resolveDestination(destination: string, fileName: string, cwd = process.cwd()): Promise<string> {
  const problem = fileNameProblem(fileName);
  if (problem) throw new ValidationError(`refusing file name from the tracker: ${problem}`, Codes.UNSAFE_FILE_NAME);
  const target = resolve(cwd, destination);
  const info = await stat(target).catch(() => undefined);
  let finalPath: string;
  if (info?.isDirectory()) finalPath = join(target, fileName);
  else if (namesDirectory(destination)) {
    if (info) throw new ConflictError(`${target} exists and is not a directory; choose another destination`, Codes.DESTINATION_EXISTS);
    await mkdir(target, { recursive: true });
    finalPath = join(target, fileName);
  } else finalPath = target;

  if (await stat(finalPath).catch(() => undefined)) {
    throw new ConflictError(`${finalPath} already exists; remove it or choose another destination`, Codes.DESTINATION_EXISTS);
  }
  const parent = await stat(dirname(finalPath)).catch(() => undefined);
  if (!parent?.isDirectory()) {
    throw new ValidationError(`directory ${dirname(finalPath)} does not exist; create it first`, Codes.NO_SUCH_DIRECTORY);
  }
  return finalPath;
}

/** Whether the user's destination ends in a separator: a directory, made when missing (see resolveDestination). */
function namesDirectory(destination: string): boolean {
  return destination.endsWith("/") || destination.endsWith(sep);
}

/**
 * `absolute`, the user's `destination` made absolute by whoever reads it
 * (the CLI from its folder, the control client from its own), with the
 * trailing separator the user typed put back: path.resolve drops it, and
 * without it `dl/new/` reached the agent as `dl/new`, which became a file
 * named `new` instead of a directory.
 */
export function keepDirectoryMark(destination: string, absolute: string): string {
  return namesDirectory(destination) && !namesDirectory(absolute) ? `${absolute}${sep}` : absolute;
}
