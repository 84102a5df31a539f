/**
 * A TCP relay on loopback that adds round-trip time: every chunk is passed on
 * `oneWayMs` after it arrived, in each direction, in order (netem, the
 * kernel's way, is not available in this VM's kernel). What it holds is
 * bounded: past 16 MiB waiting in one direction it stops reading that side,
 * so a sender sees a slow link as it would on a real one. Bandwidth caps are
 * tc's job, on the server's own port behind the relay.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import type { AddressInfo } from "node:net";

const MAX_WAITING_BYTES = 16 << 20;

/** Relays `from` to `to`, each chunk `oneWayMs` late. */
function delayedPipe(from: Socket, to: Socket, oneWayMs: number): void {
  const queue: { chunk: Buffer; due: number }[] = [];
  let waiting = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      waiting -= chunk.length;
      if (!to.destroyed) to.write(chunk);
    }
    if (waiting < MAX_WAITING_BYTES / 2 && from.isPaused()) from.resume();
    if (queue.length > 0) timer = setTimeout(flush, Math.max(0, queue[0]!.due - now));
    else if (ended) to.end();
  };
  from.on("data", (chunk: Buffer) => {
    queue.push({ chunk, due: performance.now() + oneWayMs });
    waiting += chunk.length;
    if (waiting > MAX_WAITING_BYTES) from.pause();
    timer ??= setTimeout(flush, oneWayMs);
  });
  from.on("end", () => {
    ended = true;
    if (queue.length === 0 && !timer) to.end();
  });
}

export interface DelayProxy {
  /** host:port to connect to instead of the target. */
  address: string;
  close(): Promise<void>;
}

/** Listens on `host` (a free port) and relays to `target` (host:port) with `rttMs` of added round-trip time. */
export async function startDelayProxy(target: string, rttMs: number, host = "127.0.0.1"): Promise<DelayProxy> {
  const colon = target.lastIndexOf(":");
  const [targetHost, targetPort] = [target.slice(0, colon), Number(target.slice(colon + 1))];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect({ host: targetHost, port: targetPort, noDelay: true });
    sockets.add(client).add(upstream);
    delayedPipe(client, upstream, rttMs / 2);
    delayedPipe(upstream, client, rttMs / 2);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", () => {
      // what is still queued for the client is flushed before it ends (see delayedPipe)
      if (client.writableEnded || client.destroyed) end();
    });
  });
  server.listen(0, host);
  await once(server, "listening");
  return {
    address: `${host}:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => server.close(done));
    },
  };
}
