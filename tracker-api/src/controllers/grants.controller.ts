import { Body, Controller, Example, Post, Response, Route, Security, Tags } from "@tsoa/runtime";
import type { GrantStatusRequest, GrantStatusResult } from "../../../core/api-types.js";
import type { Problem } from "../http/problem.js";
import { BODY_INVALID, PROBLEM_JSON, UNAUTHENTICATED } from "../http/problem.js";
import type { Tracker } from "../tracker.js";
import { grantStatus } from "../services/grant-status.js";

@Route("grants")
@Tags("Peers")
export class GrantsController extends Controller {
  constructor(private readonly tracker: Tracker) {
    super();
  }

  /**
   * Asked by a peer agent, every few seconds, about the download grants it is
   * serving: each stands while the session it was given to is live and its
   * user a member of its group. Grants name their session by a hash, so only
   * someone who holds a grant can ask about it.
   * @summary Do these grants still stand
   */
  @Post("status")
  @Security("bearer")
  @Example<GrantStatusResult>({ valid: [true] })
  @Response<Problem>(400, "Malformed request (more than 200 grants, a missing field)", BODY_INVALID, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  public async status(@Body() body: GrantStatusRequest): Promise<GrantStatusResult> {
    return { valid: await grantStatus(this.tracker, body.grants) };
  }
}
