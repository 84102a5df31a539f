import type { Request as ExpressRequest } from "express";
import { Controller, Example, Get, Request, Route, Tags } from "@tsoa/runtime";
import type { HealthView } from "../../../core/api-types.js";
import type { GrantKey } from "../grant-key.js";

/** A JSON Web Key Set. */
export interface Jwks {
  keys: Record<string, unknown>[];
}

@Route("")
@Tags("Tracker")
export class MetaController extends Controller {
  /** Liveness of this tracker. @summary Health */
  @Get("health")
  @Example<HealthView>({ status: "ok", trackerId: "tracker-1", time: "2026-11-25T10:00:00.000Z" })
  public health(@Request() request: ExpressRequest): HealthView {
    return { status: "ok", trackerId: String(request.app.locals.trackerId), time: new Date().toISOString() };
  }

  /** Public keys that verify this tracker's download grants (EdDSA). @summary Grant keys */
  @Get(".well-known/jwks.json")
  public jwks(@Request() request: ExpressRequest): Jwks {
    return { keys: [(request.app.locals.grantKey as GrantKey).publicJwk as Record<string, unknown>] };
  }
}
