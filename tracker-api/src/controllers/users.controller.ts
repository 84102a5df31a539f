import { Body, Controller, Example, Post, Route, SuccessResponse, Tags, Response, Header } from "@tsoa/runtime";
import type { CreateUserRequest, UserView } from "../../../core/api-types.js";
import type { IdempotencyKey, Problem } from "../http/problem.js";
import { BAD_IDEMPOTENCY_KEY, BODY_INVALID, IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON, USER_EXISTS } from "../http/problem.js";
import type { Tracker } from "../tracker.js";
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
}
