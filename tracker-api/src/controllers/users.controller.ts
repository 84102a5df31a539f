import type { Request as ExpressRequest } from "express";
import { Body, Controller, Example, Post, Put, Request, Route, Security, SuccessResponse, Tags, Response, Header } from "@tsoa/runtime";
import type { ChangePasswordRequest, CreateUserRequest, UserView } from "../../../core/api-types.js";
import type { IdempotencyKey, Problem } from "../http/problem.js";
import {
  BAD_IDEMPOTENCY_KEY, BODY_INVALID, IDEMPOTENCY_KEY_REUSED, LOGIN_THROTTLED, PROBLEM_JSON, UNAUTHENTICATED, USER_EXISTS, WRONG_PASSWORD,
} from "../http/problem.js";
import type { Tracker } from "../tracker.js";
import { changePassword } from "../services/passwords-change.js";
import type { Actor } from "../services/sessions.js";
import { createUser } from "../services/users.js";

@Route("users")
@Tags("Accounts")
export class UsersController extends Controller {
  constructor(private readonly tracker: Tracker) {
    super();
  }

  /**
   * Creates an account. The password is stored only as a slow salted hash (scrypt).
   * @summary Create a user
   */
  @Post()
  @SuccessResponse(201, "Created")
  @Example<UserView>({ userId: "alice", createdAt: "2026-11-25T10:00:00.000Z" })
  @Response<Problem>(400, "Invalid user id or password, or a bad Idempotency-Key", BODY_INVALID, PROBLEM_JSON)
  @Response<Problem>(400, "Invalid user id or password, or a bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(409, "User id taken", USER_EXISTS, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public async create(@Body() body: CreateUserRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<UserView> {
    const user = await createUser(this.tracker, body);
    this.setStatus(201);
    return user;
  }

  /**
   * Changes the caller's password. Every other session of the account ends at
   * once (on every tracker), and the download grants they were given are
   * refused by peer agents within seconds; this session stays logged in.
   * @summary Change my password
   */
  @Put("me/password")
  @Security("bearer")
  @SuccessResponse(204, "Changed")
  @Response<Problem>(400, "Malformed request", BODY_INVALID, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "The current password is wrong", WRONG_PASSWORD, PROBLEM_JSON)
  @Response<Problem>(429, "Too many wrong passwords for this account; retry after `Retry-After` seconds", LOGIN_THROTTLED, PROBLEM_JSON)
  public async changePassword(@Body() body: ChangePasswordRequest, @Request() request: ExpressRequest): Promise<void> {
    await changePassword(this.tracker, request.user as Actor, body, request.ip ?? "unknown");
    this.setStatus(204);
  }
}
