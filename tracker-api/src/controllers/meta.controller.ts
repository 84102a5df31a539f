import { Controller, Example, Get, Response, Route, Tags } from "@tsoa/runtime";
import type { HealthView } from "../../../core/api-types.js";
import { HEALTH_BUSY, PROBLEM_JSON, type Problem } from "../http/problem.js";
import type { Tracker } from "../tracker.js";

/**
 * An Ed25519 public key as a JSON Web Key (RFC 7517, RFC 8037).
 * @example {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "tracker-1-3d1f0c2a9b8e7d6c", "alg": "EdDSA", "use": "sig"}
 */
export interface PublicJwk {
  kty: string;
  crv: string;
  /** The public key, base64url. */
  x: string;
  kid: string;
  alg: string;
  use: string;
}

/**
 * A JSON Web Key Set.
 * @example {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "tracker-1-3d1f0c2a9b8e7d6c", "alg": "EdDSA", "use": "sig"}]}
 */
export interface Jwks {
  keys: PublicJwk[];
}

const EXAMPLE_JWKS: Jwks = {
  keys: [{ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: "tracker-1-3d1f0c2a9b8e7d6c", alg: "EdDSA", use: "sig" }],
};

@Route("")
@Tags("Tracker")
export class MetaController extends Controller {
  constructor(private readonly tracker: Tracker) {
    super();
  }

  /**
   * Liveness of this tracker and, when it runs with other trackers, whether it
   * has caught up with them (`catching-up` until its first pull from each
   * reachable one), its lag to each, and the digest of its state (equal on
   * trackers in sync). Cheap whoever asks and however often: the digest is
   * the one the tracker keeps, recomputed in the background at a bounded rate,
   * and is left out while none describes the current state (events were
   * applied since); ask again shortly. `GET /replication/digest`, signed with
   * the cluster secret, reads it now. Answers go out at a bounded rate over
   * all callers (50 a second); a flood waits in line, and 429 when the line
   * is full.
   * @summary Health
   */
  @Get("health")
  @Response<Problem>(429, "Too many health calls waiting; retry after `Retry-After` seconds", HEALTH_BUSY, PROBLEM_JSON)
  @Example<HealthView>({ status: "ok", trackerId: "tracker-1", time: "2026-11-25T10:00:00.000Z" })
  @Example<HealthView>({
    status: "ok", trackerId: "tracker-1", time: "2026-11-25T10:00:00.000Z",
    digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    peers: [{ trackerId: "tracker-2", url: "http://127.0.0.1:6002", reachable: true, lastContactAt: "2026-11-25T10:00:00.000Z", behind: 0, unacknowledged: 0 }],
  }, "With another tracker")
  public health(): HealthView {
    const trackerId = this.tracker.id;
    const time = new Date(this.tracker.clock()).toISOString();
    if (!this.tracker.replication) return { status: "ok", trackerId, time };
    const { status, peers, digest } = this.tracker.replication.replicator.health();
    return { status, trackerId, time, ...(digest !== undefined ? { digest } : {}), peers };
  }

  /** Public keys that verify this tracker's download grants (EdDSA). @summary Grant keys */
  @Get(".well-known/jwks.json")
  @Example<Jwks>(EXAMPLE_JWKS)
  public jwks(): Jwks {
    const { kty, crv, x, kid, alg, use } = this.tracker.grantKey.publicJwk;
    return { keys: [{ kty: kty!, crv: crv!, x: x!, kid: kid!, alg: alg!, use: use! }] };
  }
}
