import { createServer, connect, type Server, type Socket } from "node:net";
import { once } from "node:events";
import type { AddressInfo } from "node:net";

/**
 * A TCP relay on loopback in front of a server whose upload it caps: bytes
 * from the server to its clients go out at `bytesPerSecond` in all, shared by
 * every connection (as a capped uplink is), in 10 ms slices. Requests go
 * through untouched. For tests of who downloads from whom when a seeder is
 * the bottleneck; `bench:swarm` shapes real links with tc instead.
 */
export async function slowLink(target: string, bytesPerSecond: number): Promise<{ address: string; sentBytes: () => number; close: () => Promise<void> }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const sockets = new Set<Socket>();
  const queues: { client: Socket; chunks: Buffer[] }[] = [];
  let sent = 0;
  const sliceBytes = Math.max(1, Math.round(bytesPerSecond / 100));
  const timer = setInterval(() => {
    // Round robin over the connections with bytes waiting, a slice's worth in all.
    let budget = sliceBytes;
    let progress = true;
    while (budget > 0 && progress) {
      progress = false;
      for (const queue of queues) {
        const chunk = queue.chunks[0];
        if (!chunk || budget <= 0) continue;
        const share = Math.max(1, Math.floor(sliceBytes / queues.length));
        const take = Math.min(chunk.length, share, budget);
        queue.client.write(chunk.subarray(0, take));
        if (take === chunk.length) queue.chunks.shift();
        else queue.chunks[0] = chunk.subarray(take);
        budget -= take;
        sent += take;
        progress = true;
      }
    }
  }, 10);
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    const queue = { client, chunks: [] as Buffer[] };
    queues.push(queue);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      queue.chunks.push(chunk);
      // Keep at most ~1 MiB waiting per connection: the server sees a slow reader, as on a real link.
      if (!upstream.isPaused() && queue.chunks.reduce((sum, c) => sum + c.length, 0) > 1 << 20) {
        upstream.pause();
        const resume = setInterval(() => {
          if (queue.chunks.reduce((sum, c) => sum + c.length, 0) < 1 << 19 || client.destroyed) {
            clearInterval(resume);
            upstream.resume();
          }
        }, 10);
      }
    });
    const end = () => {
      // Runs once per close and error of either side: splice(-1) would drop another connection's queue, starving it.
      const index = queues.indexOf(queue);
      if (index >= 0) queues.splice(index, 1);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", () => {
      // Let what is queued drain before the client sees the end.
      const drain = setInterval(() => {
        if (queue.chunks.length === 0 || client.destroyed) {
          clearInterval(drain);
          end();
        }
      }, 10);
    }).on("error", end);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    sentBytes: () => sent,
    close: async () => {
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => server.close(done));
    },
  };
}
