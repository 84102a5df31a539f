import type { Request as ExpressRequest } from "express";
import { Body, Controller, Delete, Example, Get, Post, Request, Response, Route, Security, SuccessResponse, Tags, Header } from "@tsoa/runtime";
import type { CurrentSession, LoginRequest, LoginResult } from "../../../core/api-types.js";
import type { IdempotencyKey, Problem } from "../http/problem.js";
import { BAD_CREDENTIALS, BAD_IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_REUSED, BODY_INVALID, LOGIN_THROTTLED, PROBLEM_JSON, UNAUTHENTICATED } from "../http/problem.js";
import type { Tracker } from "../tracker.js";
import { login, logout, noticesFor, type Actor } from "../services/sessions.js";

@Route("sessions")
@Tags("Accounts")
export class SessionsController extends Controller {
  constructor(private readonly tracker: Tracker) {
    super();
  }

  /**
   * Logs in and records where this user's peer agent serves pieces. After five
   * failed attempts on an account from addresses it never logged in from, those
   * addresses wait 1 s, 2 s, 4 s … (429 with Retry-After), while its owner
   * still logs in from an address they used before; an address waits after 30
   * failures over any accounts. Counts are shared by all trackers. Unlike other writes, a login's answer is not kept under its
   * Idempotency-Key (it holds the token): a retried login opens another session.
   * @summary Log in
   */
  @Post()
  @SuccessResponse(201, "Logged in")
  @Example<LoginResult>({ token: "3q2-9xJ0mX0c4kHcQe3wq3b6w0n8n4Jr2cP9d1oQy5E", userId: "alice", peerAddress: "127.0.0.1:7001", expiresAt: "2026-11-26T10:00:00.000Z" })
  @Response<Problem>(400, "Malformed login request", BODY_INVALID, PROBLEM_JSON)
  @Response<Problem>(401, "Wrong user id or password", BAD_CREDENTIALS, PROBLEM_JSON)
  @Response<Problem>(429, "Too many failed logins; retry after `Retry-After` seconds", LOGIN_THROTTLED, PROBLEM_JSON)
  public async create(@Body() body: LoginRequest, @Request() request: ExpressRequest): Promise<LoginResult> {
    const result = await login(this.tracker, body, request.ip ?? "unknown");
    this.setStatus(201);
    return result;
  }

  /**
   * The session's user as of now (a name conflict during a network partition
   * may have renamed them since they logged in), and what they must be told.
   * @summary Who am I
   */
  @Get("current")
  @Security("bearer")
  @Example<CurrentSession>({ userId: "alice", notices: [] })
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  public async current(@Request() request: ExpressRequest): Promise<CurrentSession> {
    const me = request.user as Actor;
    return { userId: me.name, notices: await noticesFor(this.tracker.db, me.userId) };
  }

  /**
   * Logs out: the token stops working and the user's files are not handed out
   * to other peers until the next login.
   * @summary Log out
   */
  @Delete("current")
  @Security("bearer")
  @SuccessResponse(204, "Logged out")
  @Response<Problem>(400, "A bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public async remove(@Request() request: ExpressRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<void> {
    await logout(this.tracker, (request.user as Actor).tokenHash);
    this.setStatus(204);
  }
}
