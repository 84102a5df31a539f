import { EventEmitter } from "node:events";
import type { Dispatcher } from "undici";
import type { RateLimiter } from "../rate-limiter.js";
import { AGENT } from "../config.js";

/** The head of a peer's answer, and its body as events: data, end, error, close. */
export interface PeerResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: ResponseBody;
}

/**
 * A response body fed straight from undici's dispatch handler, without a
 * Readable stream in between: piece bytes are copied once into piece buffers
 * by the engine, and nothing else touches them. `pause()` stops reading the
 * socket; chunks already parsed wait here and are emitted, in order, on
 * `resume()`, so a paused body never emits data.
 *
 * A chunk emitted as `data` is only valid during that event (the socket
 * reads into reused buffers, see reused-buffer-connector.ts): a listener that
 * keeps one must copy it. Chunks queued here are copies.
 */
export class ResponseBody extends EventEmitter {
  #controller: Dispatcher.DispatchController | undefined;
  /** Like a Readable: nothing is emitted until a data listener is attached or resume() is called. */
  #flowing = false;
  #pausedByCaller = false;
  #queue: Buffer[] = [];
  #ended = false;
  #closed = false;
  /** Reading is held by the agent's download limit (see `throttle`). */
  #throttled = false;

  attach(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
  }

  override on(event: string | symbol, listener: (...args: any[]) => void): this { // eslint-disable-line @typescript-eslint/no-explicit-any
    super.on(event, listener);
    // The head is handed over before the caller can listen; its first chunks wait here meanwhile.
    if (event === "data" && !this.#flowing && !this.#pausedByCaller) queueMicrotask(() => this.#pausedByCaller || this.resume());
    return this;
  }

  pause(): void {
    this.#pausedByCaller = true;
    this.#flowing = false;
    this.#controller?.pause();
  }

  resume(): void {
    this.#pausedByCaller = false;
    if (this.#flowing) return;
    this.#flowing = true;
    while (this.#queue.length > 0 && this.#flowing) this.emit("data", this.#queue.shift()!);
    if (!this.#flowing) return;
    if (this.#ended) this.#finish();
    else if (!this.#throttled) this.#controller?.resume();
  }

  /** Stops reading the socket for `ms` (the agent's download limit is used up), then goes on if the caller still reads. */
  throttle(ms: number): void {
    if (this.#throttled || this.#closed) return;
    this.#throttled = true;
    this.#controller?.pause();
    setTimeout(() => {
      this.#throttled = false;
      if (this.#flowing && !this.#closed && !this.#ended) this.#controller?.resume();
    }, ms);
  }

  /** Stops the transfer; the connection is not reused. */
  destroy(error?: Error): void {
    if (this.#closed) return;
    this.#controller?.abort(error ?? new Error("response body destroyed"));
  }

  /** Called by the dispatch handler. */
  push(chunk: Buffer): void {
    if (!this.#flowing || this.#queue.length > 0) this.#queue.push(Buffer.from(chunk));
    else this.emit("data", chunk);
  }

  /** Called by the dispatch handler at the end of the body. */
  end(): void {
    this.#ended = true;
    if (this.#flowing && this.#queue.length === 0) this.#finish();
  }

  /** Called by the dispatch handler when the transfer failed. */
  fail(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    // An error nobody listens for (a discarded body) must not throw inside undici.
    if (this.listenerCount("error") > 0) this.emit("error", error);
    this.emit("close");
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit("end");
    this.emit("close");
  }
}

/** Sends a GET through `dispatcher`; resolves with the head as soon as it arrives. */
export function dispatchGet(
  dispatcher: Dispatcher,
  options: { path: string; headers: Record<string, string>; signal?: AbortSignal; headersTimeout: number; bodyTimeout: number; limiter?: RateLimiter },
): Promise<PeerResponse> {
  return new Promise((resolve, reject) => {
    const body = new ResponseBody();
    let started = false;
    let controller: Dispatcher.DispatchController | undefined;
    const onAbort = () => {
      const reason = options.signal?.reason ?? new Error("aborted");
      if (controller) return controller.abort(reason);
      // Still waiting for a connection (undici starts a request only once one is up; a hung peer's TLS
      // handshake takes the whole connect timeout): the caller is answered now, the request is aborted
      // when it starts, or dies with its pool.
      done();
      reject(reason);
    };
    const done = () => options.signal?.removeEventListener("abort", onAbort);
    if (options.signal?.aborted) {
      reject(options.signal.reason ?? new Error("aborted"));
      return;
    }
    options.signal?.addEventListener("abort", onAbort, { once: true });
    dispatcher.dispatch(
      { path: options.path, method: "GET", headers: options.headers, headersTimeout: options.headersTimeout, bodyTimeout: options.bodyTimeout },
      {
        onRequestStart(c) {
          controller = c;
          body.attach(c);
          if (options.signal?.aborted) onAbort();
        },
        onResponseStart(_c, statusCode, headers) {
          if (statusCode < 200) return;
          started = true;
          resolve({ statusCode, headers, body });
        },
        onResponseData(_c, chunk) {
          body.push(chunk);
          const wait = options.limiter?.charge(chunk.length) ?? 0;
          if (wait > 0) body.throttle(Math.min(wait, AGENT.RATE_WAIT_MAX_MS));
        },
        onResponseEnd() {
          done();
          body.end();
        },
        onResponseError(_c, error) {
          done();
          if (started) body.fail(error);
          else reject(error);
        },
      },
    );
  });
}
