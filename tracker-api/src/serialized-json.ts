import { createHash } from "node:crypto";
import { Readable } from "node:stream";

/**
 * A JSON body serialized once and then sent many times as it is, with an ETag
 * computed once: for large answers that change rarely (a group's file list),
 * where serializing on every request would cost more than everything else.
 */
export class SerializedJson<T> {
  readonly body: Buffer;
  readonly etag: string;

  constructor(value: T) {
    this.body = Buffer.from(JSON.stringify(value), "utf8");
    this.etag = `W/"${this.body.length.toString(16)}-${createHash("sha1").update(this.body).digest("base64url")}"`;
  }
}

/** What asBody needs of a tsoa controller: its headers and status, which tsoa applies to the response. */
interface ControllerAnswer {
  setHeader(name: string, value?: string | string[]): void;
  setStatus(status: number): void;
}

/**
 * A controller declares the type it answers (so the spec shows it) and
 * returns `asBody(this, request, serialized)`: the stored bytes go out as a
 * readable stream, which tsoa pipes to the response unchanged (its own path
 * for streams), with the ETag and content type set here; a request whose
 * If-None-Match names the ETag gets 304 and no body. The one place where a
 * serialized body stands in for its value.
 */
export function asBody<T>(controller: ControllerAnswer, ifNoneMatch: string | undefined, serialized: SerializedJson<T>): T {
  controller.setHeader("etag", serialized.etag);
  if (ifNoneMatch !== undefined && etagListed(ifNoneMatch, serialized.etag)) {
    controller.setStatus(304);
    return undefined as T;
  }
  controller.setHeader("content-type", "application/json; charset=utf-8");
  controller.setHeader("content-length", String(serialized.body.length));
  return Readable.from([serialized.body]) as unknown as T;
}

/** Whether an If-None-Match list names an ETag (weak comparison, as RFC 9110 asks for If-None-Match), or is `*`. */
function etagListed(list: string, etag: string): boolean {
  const opaque = (tag: string) => tag.trim().replace(/^W\//, "");
  return list.split(",").some((tag) => tag.trim() === "*" || opaque(tag) === opaque(etag));
}
