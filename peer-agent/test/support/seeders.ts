import { once } from "node:events";
import { statSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Bitfield } from "../../../core/bitfield.js";
import type { FileMetadata } from "../../../core/api-types.js";
import { createPeerServer, type PeerServerOptions } from "../../src/http/server.js";
import { ServedRegistry } from "../../src/served-registry.js";

/**
 * A real piece server holding every piece of `file` (read from `path`), as
 * an agent runs it; every grant is taken as the requester's name. Returns
 * the peer as a tracker would list it, and a close function.
 */
export async function startSeeder(
  name: string,
  file: FileMetadata,
  path: string,
  options: Partial<PeerServerOptions> = {},
): Promise<{ peer: { userId: string; address: string; piecesHeld: number; complete: true }; close: () => Promise<void> }> {
  const registry = new ServedRegistry();
  const pieces = file.pieceHashes.length;
  registry.add({ userId: name, file, path, verified: Bitfield.full(pieces).toBase64(), ...onDisk(path) });
  const server: Server = createPeerServer({ files: registry, checkGrant: async (token) => token ?? "anonymous", ...options });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    peer: { userId: name, address, piecesHeld: pieces, complete: true },
    close: async () => {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    },
  };
}

/** A shared file's size and modification time, as a share records them when it is hashed: the agent serves it only while they hold. */
export function onDisk(path: string): { checkedSize: number; checkedMtimeMs: number } {
  const info = statSync(path);
  return { checkedSize: info.size, checkedMtimeMs: info.mtimeMs };
}
