import type { Request as ExpressRequest } from "express";
import { Body, Controller, Delete, Example, Get, Path, Post, Query, Request, Response, Route, Security, SuccessResponse, Tags, Header } from "@tsoa/runtime";
import { DEFAULT_PAGE_LIMIT } from "../../../core/api-types.js";
import type { FileName, FilePage, FileView, FolderManifest, Identifier, PeerList, ShareFileRequest } from "../../../core/api-types.js";
import { GRANT_TTL_SECONDS, grantSessionId, signGrant } from "../../../core/grant.js";
import type { IdempotencyKey, Problem } from "../http/problem.js";
import { BAD_FILE_NAME, BAD_IDEMPOTENCY_KEY, BAD_MANIFEST, NOT_A_FOLDER, FILE_NAME_TAKEN, FILES_SHARED_QUOTA, FILE_NOT_FOUND, GROUP_NOT_FOUND, IDEMPOTENCY_KEY_REUSED, INVALID_CURSOR, NOT_MEMBER, NOT_SHARING, PROBLEM_JSON, UNAUTHENTICATED, VALIDATION_FAILED } from "../http/problem.js";
import type { Tracker } from "../tracker.js";
import { asBody } from "../serialized-json.js";
import * as files from "../services/files.js";
import type { Actor } from "../services/sessions.js";

const actor = (request: ExpressRequest) => request.user as Actor;
const EXAMPLE_FILE: FileView = {
  groupId: "movies", fileName: "holiday.mp4", size: 1048576, sha1: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
  pieceCount: 2, peersOnline: 1, sharedBy: ["alice"],
};

@Route("groups/{groupId}/files")
@Tags("Files")
@Security("bearer")
export class FilesController extends Controller {
  constructor(private readonly tracker: Tracker) {
    super();
  }

  /**
   * Files shared in a group, by name, with how many of their holders are
   * online (members only), one page at a time: send the answer's `nextCursor`
   * back as `cursor` for the next page until it is null. A walk through the
   * pages returns every file that stays shared during the walk exactly once and
   * never a file twice; a file shared or unshared meanwhile shows at most once
   * (a name after the page reached so far shows, one before it does not).
   * Each page has an ETag; `If-None-Match` gets a 304 while it is unchanged.
   * @summary List files
   * @param limit How many files at most (1–1000); 200 if absent.
   * @param cursor The `nextCursor` of the previous page, as it is; absent for the first page.
   * @isInt limit limit must be a whole number
   * @minimum limit 1 limit must be at least 1
   * @maximum limit 1000 limit must be at most 1000
   * @pattern cursor ^[A-Za-z0-9_-]{1,2048}$ cursor must be the nextCursor of a page, as it is
   * @example limit 200
   */
  @Get()
  @Example<FilePage>({ items: [EXAMPLE_FILE], nextCursor: "WzEsImZpbGVzIiwibW92aWVzIiwiaG9saWRheS5tcDQiXQ" }, "a page with more after it")
  @Example<FilePage>({ items: [EXAMPLE_FILE], nextCursor: null }, "the last page")
  @Response(304, "Unchanged since the ETag sent in If-None-Match; no body")
  @Response<Problem>(400, "Bad limit or cursor", VALIDATION_FAILED, PROBLEM_JSON)
  @Response<Problem>(400, "Bad limit or cursor", INVALID_CURSOR, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not a member", NOT_MEMBER, PROBLEM_JSON)
  @Response<Problem>(404, "No such group", GROUP_NOT_FOUND, PROBLEM_JSON)
  public async list(
    @Path() groupId: Identifier,
    @Request() request: ExpressRequest,
    @Query() limit: number = DEFAULT_PAGE_LIMIT,
    @Query() cursor?: string,
  ): Promise<FilePage> {
    return asBody(this, request.get("if-none-match"), await files.listFiles(this.tracker, actor(request), groupId, { limit, cursor }));
  }

  /**
   * Shares a file's metadata (never its bytes): base name, size, SHA1 of the
   * whole file and of every 512 KiB piece. Sharing the same name and SHA1 again
   * adds the caller as a holder (200); the same name with other content is a 409.
   * A folder is shared as one item: its files' bytes one after the other in
   * the manifest's order are the stream that size, SHA1 and pieces describe,
   * and `manifest` lists the files (checked: BAD_MANIFEST when a path is unsafe
   * or the sizes do not add up; the same bytes with another manifest are other content).
   * @summary Share a file or a folder
   */
  @Post()
  @SuccessResponse(201, "Shared, new in the group")
  @Example<FileView>(EXAMPLE_FILE)
  @Response<FileView>(200, "Already shared by others; the caller now holds it too", {
    groupId: "movies", fileName: "holiday.mp4", size: 1048576, sha1: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
    pieceCount: 2, peersOnline: 2, sharedBy: ["alice", "bob"],
  })
  @Response<Problem>(400, "Bad name, piece size or piece list, or a bad Idempotency-Key", BAD_FILE_NAME, PROBLEM_JSON)
  @Response<Problem>(400, "Bad name, piece size or piece list, or a bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(400, "Bad name, piece size or piece list, or a bad Idempotency-Key", BAD_MANIFEST, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not a member, or the caller shares as many files as one user may (QUOTA_EXCEEDED; a quota, not a rate)", NOT_MEMBER, PROBLEM_JSON)
  @Response<Problem>(403, "Not a member, or the caller shares as many files as one user may (QUOTA_EXCEEDED; a quota, not a rate)", FILES_SHARED_QUOTA, PROBLEM_JSON)
  @Response<Problem>(404, "No such group", GROUP_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(409, "Name taken by other content", FILE_NAME_TAKEN, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public async share(@Path() groupId: Identifier, @Body() body: ShareFileRequest, @Request() request: ExpressRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<FileView> {
    const { created, file } = await files.shareFile(this.tracker, actor(request), groupId, body);
    this.setStatus(created ? 201 : 200);
    return file;
  }

  /** The caller stops sharing this file in this group. @summary Stop sharing */
  @Delete("{fileName}/holders/me")
  @SuccessResponse(204, "No longer shared by the caller")
  @Response<Problem>(400, "A bad Idempotency-Key", BAD_IDEMPOTENCY_KEY, PROBLEM_JSON)
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not a member", NOT_MEMBER, PROBLEM_JSON)
  @Response<Problem>(404, "No such group, or the caller does not share the file", NOT_SHARING, PROBLEM_JSON)
  @Response<Problem>(404, "No such group, or the caller does not share the file", GROUP_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(422, "The Idempotency-Key was used for another request", IDEMPOTENCY_KEY_REUSED, PROBLEM_JSON)
  public async stopSharing(@Path() groupId: Identifier, @Path() fileName: FileName, @Request() request: ExpressRequest, @Header("Idempotency-Key") _idempotencyKey?: IdempotencyKey): Promise<void> {
    await files.stopSharing(this.tracker, actor(request), groupId, fileName);
    this.setStatus(204);
  }

  /**
   * A shared folder's files, in the order their bytes follow each other in
   * its stream (members only). A download checks every path before it writes
   * anything: a manifest comes from another member's agent.
   * @summary Files of a folder
   */
  @Get("{fileName}/manifest")
  @Example<FolderManifest>({
    groupId: "course", fileName: "materials", sha1: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
    files: [{ path: "notes.txt", size: 1200 }, { path: "week-1/slides.pdf", size: 48213 }],
  })
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not a member", NOT_MEMBER, PROBLEM_JSON)
  @Response<Problem>(404, "No such group or file, or a plain file (no manifest)", FILE_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(404, "No such group or file, or a plain file (no manifest)", GROUP_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(404, "No such group or file, or a plain file (no manifest)", NOT_A_FOLDER, PROBLEM_JSON)
  public async manifest(@Path() groupId: Identifier, @Path() fileName: FileName, @Request() request: ExpressRequest): Promise<FolderManifest> {
    return files.folderManifest(this.tracker, actor(request), groupId, fileName);
  }

  /**
   * The file's metadata, the online peers that hold it or part of it (not the
   * caller), and a short-lived grant to present to those peers' agents.
   * @summary Peers of a file
   */
  @Get("{fileName}/peers")
  @Example<PeerList>({
    file: {
      groupId: "movies", fileName: "holiday.mp4", size: 1048576, sha1: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", pieceSize: 524288,
      pieceHashes: ["a9993e364706816aba3e25717850c26c9cd0d89d", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"],
    },
    peers: [{ userId: "alice", address: "192.168.1.10:7001", piecesHeld: 2, complete: true }],
    grant: "eyJhbGciOiJFZERTQSIsImtpZCI6InRyYWNrZXItMSJ9.eyJzdWIiOiJib2IiLCJncnAiOiJtb3ZpZXMifQ.c2lnbmF0dXJl",
    grantExpiresAt: "2026-11-25T10:10:00.000Z",
  })
  @Response<Problem>(401, "No valid session", UNAUTHENTICATED, PROBLEM_JSON)
  @Response<Problem>(403, "Not a member", NOT_MEMBER, PROBLEM_JSON)
  @Response<Problem>(404, "No such group or file", FILE_NOT_FOUND, PROBLEM_JSON)
  @Response<Problem>(404, "No such group or file", GROUP_NOT_FOUND, PROBLEM_JSON)
  public async peers(@Path() groupId: Identifier, @Path() fileName: FileName, @Request() request: ExpressRequest): Promise<PeerList> {
    const me = actor(request);
    const { file, peers } = await files.peersOf(this.tracker, me, groupId, fileName);
    const key = this.tracker.grantKey;
    const now = this.tracker.clock();
    const grant = await signGrant({ userId: me.name, groupId, sha1: file.sha1, fileName, sessionId: grantSessionId(me.tokenHash) }, key, GRANT_TTL_SECONDS, now);
    return { file, peers, grant, grantExpiresAt: new Date(now + GRANT_TTL_SECONDS * 1000).toISOString() };
  }
}
