import { AppError, Codes, UnavailableError } from "../../core/errors.js";

/** The system's error code of a failure, also when it is wrapped as `cause`. */
function systemCode(error: unknown): string | undefined {
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: { code?: unknown } };
  if (typeof code === "string") return code;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

/** Says what to do about the usual reasons a node cannot start listening. */
export function explainListenError(error: unknown, address: string): unknown {
  if (error instanceof AppError) return error;
  switch (systemCode(error)) {
    case "EADDRINUSE":
      return new UnavailableError(`${address} is already in use; choose another port`, Codes.ADDRESS_IN_USE);
    case "EADDRNOTAVAIL":
      return new UnavailableError(`${address} is not an address of this machine; use one it has, e.g. 127.0.0.1`, Codes.ADDRESS_NOT_AVAILABLE);
    case "EACCES":
      return new UnavailableError(`not allowed to listen on ${address}; use a port above 1023`, Codes.ADDRESS_NOT_ALLOWED);
    default:
      return error;
  }
}
