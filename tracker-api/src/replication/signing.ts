import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { TRACKER } from "../config.js";
import { Codes, UnauthorizedError, ValidationError } from "../../../core/errors.js";


/** Used when no secret is given; only allowed on loopback (see config.ts). */
export const DEMO_CLUSTER_SECRET = "p2p-demo-cluster-secret-loopback-only";

/** The secret to use: the given one, or the demo secret if this tracker only listens on loopback. */
export function clusterSecretFor(host: string, given: string | undefined): string {
  if (given !== undefined) {
    if (given.length < 16) throw new ValidationError("the cluster secret must be at least 16 characters", Codes.WEAK_CLUSTER_SECRET);
    if (given === DEMO_CLUSTER_SECRET && !isLoopback(host)) {
      throw new ValidationError(`the demo cluster secret is public; a tracker on ${host} needs a secret of its own`, Codes.CLUSTER_SECRET_REQUIRED);
    }
    return given;
  }
  if (isLoopback(host)) return DEMO_CLUSTER_SECRET;
  throw new ValidationError(
    `tracker listens on ${host}, not loopback: give every tracker the same --cluster-secret (or P2P_CLUSTER_SECRET)`,
    Codes.CLUSTER_SECRET_REQUIRED,
  );
}

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost" || bare === "::1") return true;
  return isIP(bare) === 4 && bare.startsWith("127.");
}

export const HEADER = {
  timestamp: "x-replication-timestamp",
  delivery: "x-replication-delivery",
  signature: "x-replication-signature",
} as const;

/**
 * The signed text: the timestamp, a one-time delivery id, the method and path
 * with query, and the body. Signing the id and the target (not only the body)
 * means a captured delivery cannot be replayed under a new id or sent to another route.
 */
function signedText(timestamp: string, delivery: string, method: string, target: string, body: string): string {
  return `${timestamp}.${delivery}.${method.toUpperCase()} ${target}.${body}`;
}

export function sign(secret: string, method: string, target: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = String(now);
  const delivery = randomUUID();
  const signature = createHmac("sha256", secret).update(signedText(timestamp, delivery, method, target, body)).digest("hex");
  return { [HEADER.timestamp]: timestamp, [HEADER.delivery]: delivery, [HEADER.signature]: signature };
}

/** Checks signatures and refuses replays; one per tracker. */
export class SignatureVerifier {
  readonly #seen = new Map<string, number>();

  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws UnauthorizedError (401) for a missing, wrong, stale or replayed signature. */
  verify(headers: Record<string, string | string[] | undefined>, method: string, target: string, body: string): void {
    const header = (name: string) => {
      const value = headers[name];
      return typeof value === "string" ? value : undefined;
    };
    const timestamp = header(HEADER.timestamp);
    const delivery = header(HEADER.delivery);
    const signature = header(HEADER.signature);
    if (!timestamp || !delivery || !signature) {
      throw new UnauthorizedError("replication requests must be signed", Codes.REPLICATION_UNSIGNED);
    }
    const expected = createHmac("sha256", this.secret).update(signedText(timestamp, delivery, method, target, body)).digest();
    const given = Buffer.from(signature, "hex");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new UnauthorizedError("replication signature does not match", Codes.REPLICATION_BAD_SIGNATURE);
    }
    const now = this.now();
    const at = Number(timestamp);
    if (!Number.isFinite(at) || Math.abs(now - at) > TRACKER.SIGNATURE_WINDOW_MS) {
      throw new UnauthorizedError("replication request is too old or from the future", Codes.REPLICATION_STALE);
    }
    this.#forgetOld(now);
    if (this.#seen.has(delivery)) {
      throw new UnauthorizedError("replication delivery was already received", Codes.REPLICATION_REPLAYED);
    }
    this.#seen.set(delivery, at);
  }

  #forgetOld(now: number): void {
    for (const [id, at] of this.#seen) {
      if (now - at <= TRACKER.SIGNATURE_WINDOW_MS) break;
      this.#seen.delete(id);
    }
  }
}
