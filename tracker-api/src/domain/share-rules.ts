import { PIECE_SIZE, type ShareFileRequest } from "../../../core/api-types.js";
import { Codes, ValidationError } from "../../../core/errors.js";
import { manifestProblem } from "../../../core/manifest.js";
import { pieceCount } from "../../../core/pieces.js";
import { fileNameProblem } from "../../../core/validation.js";
import { TRACKER } from "../config.js";


/** Checks share metadata beyond what the schema can: a base name, the piece size, one hash per piece. */
export function checkShareMetadata(input: ShareFileRequest): void {
  const problem = fileNameProblem(input.fileName);
  if (problem) throw new ValidationError(problem, Codes.BAD_FILE_NAME);
  if (input.pieceSize !== PIECE_SIZE) {
    throw new ValidationError(`pieceSize must be ${PIECE_SIZE} (512 KiB), got ${input.pieceSize}`, Codes.BAD_PIECE_SIZE);
  }
  const expected = pieceCount(input.size, input.pieceSize);
  if (input.pieceHashes.length !== expected) {
    throw new ValidationError(
      `a file of ${input.size} bytes has ${expected} pieces, but ${input.pieceHashes.length} piece hashes were sent`,
      Codes.PIECE_COUNT_MISMATCH,
    );
  }
  if (input.manifest !== undefined) {
    const wrong = manifestProblem(input.manifest, input.size, TRACKER.MAX_FOLDER_FILES);
    if (wrong) throw new ValidationError(wrong, Codes.BAD_MANIFEST);
  }
}

/** A folder's manifest as stored and replicated (JSON of its entries, nothing else kept), or null for a plain file. */
export function storedManifest(input: ShareFileRequest): string | null {
  return input.manifest === undefined ? null : JSON.stringify(input.manifest.map(({ path, size }) => ({ path, size })));
}

/**
 * What a share of (name, content) means given the item already listed under that name, if any. The content is the
 * stream's SHA1 and, for a folder, its manifest (null for a plain file): the same bytes laid out as other files are
 * other content.
 */
export function shareOutcome(
  existing: { sha1: string; manifest: string | null } | undefined,
  shared: { sha1: string; manifest: string | null },
): "new-file" | "add-holder" | "name-taken" {
  if (existing === undefined) return "new-file";
  return existing.sha1 === shared.sha1 && existing.manifest === shared.manifest ? "add-holder" : "name-taken";
}
