import type { Request as ExpressRequest } from "express";
import { Body, Controller, Example, Post, Request, Response, Route, Security, Tags, Header } from "@tsoa/runtime";
import type { AnnounceRequest, AnnounceResult } from "../../../core/api-types.js";
import type { IdempotencyKey, Problem } from "../http/problem.js";
import { BAD_IDEMPOTENCY_KEY, BODY_INVALID, IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON, UNAUTHENTICATED } from "../http/problem.js";
import type { Tracker } from "../tracker.js";
import { announce } from "../services/files.js";
import type { Actor } from "../services/sessions.js";

@Route("peers")
@Tags("Peers")
export class PeersController extends Controller {
  constructor(private readonly tracker: Tracker) {
    super();
  }

  /**
   * Heartbeat of a logged-in peer with what it holds. A peer that stops
   * announcing is no longer handed out after 60 s.
   * @summary Announce
   */
  @Post("announce")
  @Security("bearer")
  @Example<AnnounceResult>({ intervalSeconds: 15, rejected: [] })
  @Response<Problem>(400, "Malformed announce, or a bad Idempotency-Key", BODY_INVALID, PROBLEM_JSON)
  @Response<Problem>(400, "Malformed announce, or a bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public run(@Body() body: AnnounceRequest, @Request() request: ExpressRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<AnnounceResult> {
    return announce(this.tracker, request.user as Actor, body);
  }
}
