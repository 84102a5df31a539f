import { StringDecoder } from "node:string_decoder";
import { AGENT } from "../config.js";

export interface StreamEvent {
  event: string;
  data: string;
}

/**
 * Splits a Server-Sent Events stream (text/event-stream, as a peer's file
 * events come) into events, fed chunk by chunk: `event:` and `data:` fields,
 * an event per blank line, comment lines ignored. Only what peer agents send
 * is understood: no `id:` or `retry:` handling. A line or an event longer
 * than `maxLine` characters is an error, so a hostile peer cannot make it
 * buffer without end.
 */
export class EventStreamParser {
  readonly #decoder = new StringDecoder("utf8");
  readonly #maxLine: number;
  #buffer = "";
  #event = "";
  #data: string[] = [];
  #dataLength = 0;

  constructor(maxLine = AGENT.EVENT_STREAM_MAX_LINE) {
    this.#maxLine = maxLine;
  }

  /** Parses a chunk (which may be reused by the caller afterwards) and returns the events it completed. */
  push(chunk: Buffer): StreamEvent[] {
    this.#buffer += this.#decoder.write(chunk);
    const events: StreamEvent[] = [];
    let start = 0;
    for (let end = this.#buffer.indexOf("\n", start); end >= 0; end = this.#buffer.indexOf("\n", start)) {
      const line = this.#buffer.slice(start, end).replace(/\r$/, "");
      start = end + 1;
      if (line === "") {
        if (this.#data.length > 0) events.push({ event: this.#event || "message", data: this.#data.join("\n") });
        this.#event = "";
        this.#data = [];
        this.#dataLength = 0;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") this.#event = value;
      else if (field === "data") {
        this.#data.push(value);
        this.#dataLength += value.length;
        if (this.#dataLength > this.#maxLine) throw new Error(`an event is longer than ${this.#maxLine} characters`);
      }
    }
    this.#buffer = this.#buffer.slice(start);
    if (this.#buffer.length > this.#maxLine) throw new Error(`an event stream line is longer than ${this.#maxLine} characters`);
    return events;
  }
}
