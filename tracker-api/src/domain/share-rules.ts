import { PIECE_SIZE, type ShareFileRequest } from "../../../core/api-types.js";
import { Codes, ValidationError } from "../../../core/errors.js";
import { pieceCount } from "../../../core/pieces.js";
import { fileNameProblem } from "../../../core/validation.js";


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
}

/** What a share of (name, sha1) means given the file already listed under that name, if any. */
export function shareOutcome(existingSha1: string | undefined, sha1: string): "new-file" | "add-holder" | "name-taken" {
  if (existingSha1 === undefined) return "new-file";
  return existingSha1 === sha1 ? "add-holder" : "name-taken";
}
