import { createHash } from "node:crypto";
import type express from "express";

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

/**
 * tsoa sends what a controller returns with `res.json`. A controller declares
 * the type it answers (so the spec shows it) and returns `asBody(serialized)`;
 * this hook, installed on the app's responses, then sends the stored bytes
 * (and answers 304 to a matching If-None-Match) instead of serializing again.
 */
export function sendSerializedJson(app: express.Express): void {
  const json = app.response.json;
  app.response.json = function (this: express.Response, body?: unknown) {
    if (!(body instanceof SerializedJson)) return json.call(this, body);
    this.set("content-type", "application/json; charset=utf-8");
    this.set("etag", body.etag);
    return this.send(body.body);
  };
}

/** The one place where a serialized body stands in for its value; see sendSerializedJson. */
export function asBody<T>(serialized: SerializedJson<T>): T {
  return serialized as unknown as T;
}
