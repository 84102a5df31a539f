import type { Request as ExpressRequest } from "express";
import { Body, Controller, Delete, Example, Get, Path, Post, Query, Request, Response, Route, Security, SuccessResponse, Tags, Header } from "@tsoa/runtime";
import type {
  CreateGroupRequest, GroupPage, GroupView, Identifier, JoinRequestPage, JoinRequestView, MemberPage, MemberView,
} from "../../../core/api-types.js";
import { DEFAULT_PAGE_LIMIT } from "../../../core/api-types.js";
import type { IdempotencyKey, Problem } from "../http/problem.js";
import { ALREADY_MEMBER, BAD_IDEMPOTENCY_KEY, GROUPS_OWNED_QUOTA, JOIN_REQUESTS_QUOTA, BODY_INVALID, GROUP_EXISTS, GROUP_NOT_FOUND, IDEMPOTENCY_KEY_REUSED, INVALID_CURSOR, NOT_MEMBER, NOT_OWNER, NOT_SELF, PROBLEM_JSON, REQUEST_NOT_FOUND, REQUEST_PENDING, UNAUTHENTICATED, VALIDATION_FAILED } from "../http/problem.js";
import type { Tracker } from "../tracker.js";
import * as groups from "../services/groups.js";
import type { Actor } from "../services/sessions.js";

const actor = (request: ExpressRequest) => request.user as Actor;

@Route("groups")
@Tags("Groups")
@Security("bearer")
export class GroupsController extends Controller {
  constructor(private readonly tracker: Tracker) {
    super();
  }

  /**
   * Every group in the network, by id, with its owner and member count, one
   * page at a time: send the answer's `nextCursor` back as `cursor` until it is null.
   * @summary List groups
   * @param limit How many groups at most (1–1000); 200 if absent.
   * @param cursor The `nextCursor` of the previous page, as it is; absent for the first page.
   * @isInt limit limit must be a whole number
   * @minimum limit 1 limit must be at least 1
   * @maximum limit 1000 limit must be at most 1000
   * @pattern cursor ^[A-Za-z0-9_-]{1,2048}$ cursor must be the nextCursor of a page, as it is
   * @example limit 200
   */
  @Get()
  @Example<GroupPage>({ items: [{ groupId: "movies", owner: "alice", memberCount: 3, createdAt: "2026-11-25T10:00:00.000Z" }], nextCursor: null })
  @Response<Problem>(400, "Bad limit or cursor", VALIDATION_FAILED, PROBLEM_JSON)
  @Response<Problem>(400, "Bad limit or cursor", INVALID_CURSOR, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  public list(@Query() limit: number = DEFAULT_PAGE_LIMIT, @Query() cursor?: string): Promise<GroupPage> {
    return groups.listGroups(this.tracker, { limit, cursor });
  }

  /** Creates a group; the caller becomes its owner and first member. @summary Create a group */
  @Post()
  @SuccessResponse(201, "Created")
  @Example<GroupView>({ groupId: "movies", owner: "alice", memberCount: 1, createdAt: "2026-11-25T10:00:00.000Z" })
  @Response<Problem>(400, "Bad group id, or a bad Idempotency-Key", BODY_INVALID, PROBLEM_JSON)
  @Response<Problem>(400, "Bad group id, or a bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "The caller owns as many groups as one user may (QUOTA_EXCEEDED; a quota, not a rate: waiting does not lift it)", GROUPS_OWNED_QUOTA, PROBLEM_JSON)
  @Response<Problem>(409, "Group id taken", GROUP_EXISTS, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public async create(@Body() body: CreateGroupRequest, @Request() request: ExpressRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<GroupView> {
    const group = await groups.createGroup(this.tracker, actor(request), body.groupId);
    this.setStatus(201);
    return group;
  }

  /**
   * Members of a group in the order they joined, owner flagged (members only),
   * one page at a time: send the answer's `nextCursor` back as `cursor` until it is null.
   * @summary List members
   * @param limit How many members at most (1–1000); 200 if absent.
   * @param cursor The `nextCursor` of the previous page, as it is; absent for the first page.
   * @isInt limit limit must be a whole number
   * @minimum limit 1 limit must be at least 1
   * @maximum limit 1000 limit must be at most 1000
   * @pattern cursor ^[A-Za-z0-9_-]{1,2048}$ cursor must be the nextCursor of a page, as it is
   * @example limit 200
   */
  @Get("{groupId}/members")
  @Example<MemberPage>({ items: [{ userId: "alice", isOwner: true, joinedAt: "2026-11-25T10:00:00.000Z" }], nextCursor: null })
  @Response<Problem>(400, "Bad limit or cursor", VALIDATION_FAILED, PROBLEM_JSON)
  @Response<Problem>(400, "Bad limit or cursor", INVALID_CURSOR, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not a member", NOT_MEMBER, PROBLEM_JSON)
  @Response<Problem>(404, "No such group", GROUP_NOT_FOUND, PROBLEM_JSON)
  public members(
    @Path() groupId: Identifier,
    @Request() request: ExpressRequest,
    @Query() limit: number = DEFAULT_PAGE_LIMIT,
    @Query() cursor?: string,
  ): Promise<MemberPage> {
    return groups.listMembers(this.tracker, actor(request), groupId, { limit, cursor });
  }

  /**
   * Leaves a group, or, for its owner, removes another member. If the owner
   * leaves, the member who joined earliest after them becomes owner; the last
   * member out deletes the group. The removed member's shares in the group
   * end, and the download grants they hold are refused by agents within 5 s.
   * @summary Leave a group, or remove a member (owner)
   */
  @Delete("{groupId}/members/{userId}")
  @SuccessResponse(204, "Left")
  @Response<Problem>(400, "A bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not yourself and not the owner, or not a member", NOT_SELF, PROBLEM_JSON)
  @Response<Problem>(403, "Not yourself, or not a member", NOT_MEMBER, PROBLEM_JSON)
  @Response<Problem>(404, "No such group", GROUP_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public async leave(@Path() groupId: Identifier, @Path() userId: Identifier, @Request() request: ExpressRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<void> {
    await groups.leaveGroup(this.tracker, actor(request), groupId, userId);
    this.setStatus(204);
  }

  /** Asks the owner to let the caller join. @summary Request to join */
  @Post("{groupId}/join-requests")
  @SuccessResponse(201, "Requested")
  @Example<JoinRequestView>({ groupId: "movies", userId: "bob", requestedAt: "2026-11-25T10:00:00.000Z" })
  @Response<Problem>(400, "A bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "The caller has as many join requests pending as one user may (QUOTA_EXCEEDED; a quota, not a rate)", JOIN_REQUESTS_QUOTA, PROBLEM_JSON)
  @Response<Problem>(404, "No such group", GROUP_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(409, "Already a member or already requested", REQUEST_PENDING, PROBLEM_JSON)
  @Response<Problem>(409, "Already a member or already requested", ALREADY_MEMBER, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public async requestJoin(@Path() groupId: Identifier, @Request() request: ExpressRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<JoinRequestView> {
    const joinRequest = await groups.requestJoin(this.tracker, actor(request), groupId);
    this.setStatus(201);
    return joinRequest;
  }

  /**
   * Pending join requests, oldest first (owner only), one page at a time: send
   * the answer's `nextCursor` back as `cursor` until it is null.
   * @summary List join requests
   * @param limit How many requests at most (1–1000); 200 if absent.
   * @param cursor The `nextCursor` of the previous page, as it is; absent for the first page.
   * @isInt limit limit must be a whole number
   * @minimum limit 1 limit must be at least 1
   * @maximum limit 1000 limit must be at most 1000
   * @pattern cursor ^[A-Za-z0-9_-]{1,2048}$ cursor must be the nextCursor of a page, as it is
   * @example limit 200
   */
  @Get("{groupId}/join-requests")
  @Example<JoinRequestPage>({ items: [{ groupId: "movies", userId: "bob", requestedAt: "2026-11-25T10:00:00.000Z" }], nextCursor: null })
  @Response<Problem>(400, "Bad limit or cursor", VALIDATION_FAILED, PROBLEM_JSON)
  @Response<Problem>(400, "Bad limit or cursor", INVALID_CURSOR, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not the owner", NOT_OWNER, PROBLEM_JSON)
  @Response<Problem>(404, "No such group", GROUP_NOT_FOUND, PROBLEM_JSON)
  public joinRequests(
    @Path() groupId: Identifier,
    @Request() request: ExpressRequest,
    @Query() limit: number = DEFAULT_PAGE_LIMIT,
    @Query() cursor?: string,
  ): Promise<JoinRequestPage> {
    return groups.listJoinRequests(this.tracker, actor(request), groupId, { limit, cursor });
  }

  /** Accepts a pending request: the user becomes a member (owner only). @summary Accept a join request */
  @Post("{groupId}/join-requests/{userId}/accept")
  @Example<MemberView>({ userId: "bob", isOwner: false, joinedAt: "2026-11-25T10:05:00.000Z" })
  @Response<Problem>(400, "A bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not the owner", NOT_OWNER, PROBLEM_JSON)
  @Response<Problem>(404, "No such group or request", REQUEST_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(404, "No such group or request", GROUP_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public accept(@Path() groupId: Identifier, @Path() userId: Identifier, @Request() request: ExpressRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<MemberView> {
    return groups.acceptJoin(this.tracker, actor(request), groupId, userId);
  }

  /** Rejects a pending request (owner only). @summary Reject a join request */
  @Post("{groupId}/join-requests/{userId}/reject")
  @SuccessResponse(204, "Rejected")
  @Response<Problem>(400, "A bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not the owner", NOT_OWNER, PROBLEM_JSON)
  @Response<Problem>(404, "No such group or request", REQUEST_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(404, "No such group or request", GROUP_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public async reject(@Path() groupId: Identifier, @Path() userId: Identifier, @Request() request: ExpressRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<void> {
    await groups.rejectJoin(this.tracker, actor(request), groupId, userId);
    this.setStatus(204);
  }
}
