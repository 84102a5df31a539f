import { Pool } from "undici";
import { Bitfield } from "../bitfield.js";
import { AppError, fromProblem } from "../errors.js";
import type { BitfieldView } from "../api-types.js";

/** One remote peer agent as seen by a download: its connection pool and what we measured of it. */
export class PeerConnection {
  readonly id: string;
  readonly userId: string;
  readonly address: string;
  readonly pool: Pool;
  bitfield: Bitfield;
  bytesPerSecond = 0;
  latencyMs = 0;
  failures = 0;
  banned = false;
  bytes = 0;
  pieces = 0;

  constructor(userId: string, address: string, pieceCount: number) {
    this.id = `${userId}@${address}`;
    this.userId = userId;
    this.address = address;
    this.bitfield = new Bitfield(pieceCount);
    this.pool = new Pool(`http://${address}`, {
      connections: 4,
      pipelining: 1,
      connectTimeout: 3000,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
  }

  async fetchBitfield(path: string, grant: string, signal?: AbortSignal): Promise<void> {
    const response = await this.pool.request({
      path,
      method: "GET",
      headers: { authorization: `Bearer ${grant}` },
      signal,
    });
    const body = (await response.body.json()) as BitfieldView;
    if (response.statusCode !== 200) throw fromProblem(response.statusCode, body);
    this.bitfield = Bitfield.fromBase64(this.bitfield.size, body.bitfield);
  }

  /** Records a transfer: exponentially weighted, so the picker follows the peer's current speed. */
  measure(bytes: number, elapsedMs: number, firstByteMs: number): void {
    const rate = bytes / Math.max(elapsedMs, 1) * 1000;
    this.bytesPerSecond = this.bytesPerSecond === 0 ? rate : this.bytesPerSecond * 0.7 + rate * 0.3;
    this.latencyMs = this.latencyMs === 0 ? firstByteMs : this.latencyMs * 0.7 + firstByteMs * 0.3;
  }

  async close(): Promise<void> {
    await this.pool.destroy().catch(() => {});
  }
}

export function describeFailure(error: unknown): string {
  if (error instanceof AppError) return `${error.code}: ${error.message}`;
  const e = error as { code?: string; message?: string };
  return e.code ?? e.message ?? String(error);
}
