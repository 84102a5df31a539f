import type { NextFunction, Request, Response } from "express";
import { Codes, TooManyRequestsError } from "../../../core/errors.js";

/**
 * Lets callers through at a bounded rate, first come first served: up to
 * `burst` at once, then `perSecond`; the others wait in line, which costs the
 * tracker a socket each and no CPU, and beyond `maxWaiting` are refused.
 */
export class Pacer {
  #tokens: number;
  #refilledAt: number;
  readonly #waiting: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: { perSecond: number; burst: number; maxWaiting: number },
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = limits.burst;
    this.#refilledAt = now();
  }

  /** Calls `go` now or when the caller's turn comes; returns false (and never calls it) when the line is full. */
  enter(go: () => void): boolean {
    this.#refill();
    if (this.#waiting.length === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      go();
      return true;
    }
    if (this.#waiting.length >= this.limits.maxWaiting) return false;
    this.#waiting.push(go);
    this.#schedule();
    return true;
  }

  #refill(): void {
    const now = this.now();
    this.#tokens = Math.min(this.limits.burst, this.#tokens + ((now - this.#refilledAt) * this.limits.perSecond) / 1000);
    this.#refilledAt = now;
  }

  #schedule(): void {
    if (this.#timer || this.#waiting.length === 0) return;
    const wait = Math.max(0, ((1 - this.#tokens) * 1000) / this.limits.perSecond);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      while (this.#waiting.length > 0 && this.#tokens >= 1) {
        this.#tokens -= 1;
        this.#waiting.shift()!();
      }
      this.#schedule();
    }, Math.ceil(wait));
    this.#timer.unref();
  }
}

/**
 * /health needs no login: whoever floods it waits in line (TRACKER.HEALTH_PACE)
 * instead of taking the tracker's time from logins and lists. 200 connections
 * asking back to back cost about 50 answers a second, nothing more. A caller
 * that gave up while waiting is skipped without an answer.
 */
export function paceHealth(pacer: Pacer) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.path !== "/health") return next();
    const admitted = pacer.enter(() => {
      if (req.socket.destroyed) return res.destroy();
      next();
    });
    if (!admitted) {
      next(new TooManyRequestsError("too many health calls are waiting; try again in a second", 1, Codes.HEALTH_BUSY));
    }
  };
}
