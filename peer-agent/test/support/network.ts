import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTrackerInfo, type TrackerAddress } from "../../../core/tracker-info.js";
import { openDatabase } from "../../../tracker-api/src/db/open.js";
import { loadGrantKey } from "../../../tracker-api/src/grant-key.js";
import { createApp } from "../../../tracker-api/src/http/app.js";
import { createTracker } from "../../../tracker-api/src/tracker.js";
import { PeerNode, type PeerNodeOptions } from "../../src/peer-node.js";

/**
 * A real tracker on a loopback port and real peer nodes around it, all in a
 * temp directory that `close()` removes.
 */
export async function startNetwork() {
  const dir = await mkdtemp(join(tmpdir(), "p2p-net-"));
  const db = await openDatabase(join(dir, "tracker.db"));
  const app = createApp(createTracker({ db, id: "tracker-1", grantKey: await loadGrantKey("tracker-1", dir) }));
  const server: Server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const trackers: TrackerAddress[] = parseTrackerInfo(`127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  const nodes: PeerNode[] = [];
  const notices: string[] = [];

  return {
    dir,
    trackers,
    notices,
    async node(name: string, options: Partial<PeerNodeOptions> = {}): Promise<PeerNode> {
      const node = await PeerNode.start({
        host: "127.0.0.1",
        port: 0,
        trackers,
        stateDir: join(dir, `state-${name}`),
        onNotice: (line) => notices.push(`${name}: ${line}`),
        ...options,
      });
      nodes.push(node);
      return node;
    },
    async close() {
      await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await db.$disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
