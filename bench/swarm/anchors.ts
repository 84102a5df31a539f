/**
 * The anchors bench:swarm compares us with, as separate processes: nginx
 * serving the file over HTTP (one single-process nginx per source, so one can
 * be killed or stopped alone) for aria2c multi-source downloads, and a
 * BitTorrent swarm of aria2c peers around opentracker.
 */
import { chmod, link, mkdir, readFile, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { basename, join } from "node:path";
import { freePort } from "./cluster.js";
import { run, sleep, type Children } from "../support/processes.js";

/** Starts nginx serving `root` on host:port (a free port when none is given), in the foreground, one process. */
export async function startNginx(children: Children, dir: string, root: string, host = "127.0.0.1", port?: number): Promise<{ process: ChildProcess; address: string; restart(): Promise<ChildProcess> }> {
  const listen = port ?? (await freePort(host));
  const prefix = join(dir, `nginx-${listen}`);
  await mkdir(prefix, { recursive: true });
  const config = join(prefix, "nginx.conf");
  await writeFile(config, `
user root;
daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server { listen ${host}:${listen}; root ${root}; }
}
`);
  const start = async () => {
    const child = children.spawn("nginx", ["-p", prefix, "-c", config], { stdio: ["ignore", "ignore", "inherit"] });
    for (let tries = 0; ; tries++) {
      const probe = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://${host}:${listen}/`]);
      if (probe.stdout !== "000") break;
      if (tries > 100 || child.exitCode !== null) throw new Error(`nginx on ${host}:${listen} did not start`);
      await sleep(20);
    }
    return child;
  };
  const handle = { process: await start(), address: `${host}:${listen}`, restart: async () => (handle.process = await start()) };
  return handle;
}

/** aria2c from several HTTP sources at once, as bench:download runs it. */
export function aria2cMultiSource(urls: string[], dir: string, out: string): string[] {
  return [
    "-d", dir, "-o", out, `-x${urls.length}`, `-s${urls.length}`, "-k", "1M", "--file-allocation=falloc", "--allow-overwrite=true",
    "--auto-file-renaming=false", "--console-log-level=warn", "--summary-interval=0", "--download-result=hide", ...urls,
  ];
}

/** The info hash of a .torrent that mktorrent wrote: its `info` dictionary is the last key, so it runs to the file's last byte but one. */
export function infoHash(torrent: Buffer): string {
  const at = torrent.indexOf("4:info") + "4:info".length;
  return createHash("sha1").update(torrent.subarray(at, torrent.length - 1)).digest("hex");
}

const BT_FLAGS = [
  "--enable-dht=false", "--enable-dht6=false", "--disable-ipv6=true", "--bt-enable-lpd=false", "--enable-peer-exchange=true",
  "--seed-ratio=0.0", // keep seeding until killed, as our agents keep serving
  "--file-allocation=falloc", "--console-log-level=warn", "--summary-interval=0", "--download-result=hide",
];

export interface Swarm {
  torrent: string;
  /** Starts the seeder on `address`, with the source file hard-linked into its directory. */
  seeder(address: string): Promise<ChildProcess>;
  /** Starts a leecher on `address` downloading into `into`; resolves with the Date.now() of its completion. */
  leecher(address: string, into: string): Promise<{ process: ChildProcess; done: Promise<number> }>;
}

/**
 * A BitTorrent swarm for `source`: mktorrent with 512 KiB pieces (as ours),
 * opentracker on 127.0.0.1 with a whitelist of that one info hash (Debian's
 * build serves whitelisted torrents only), and aria2c peers, each bound to its
 * own loopback address so tc can cap it by source address.
 */
export async function startSwarm(children: Children, dir: string, source: string): Promise<Swarm> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755); // opentracker drops to nobody and chroots here, then reads the whitelist
  const port = await freePort();
  const torrent = join(dir, "source.torrent");
  const made = await run("mktorrent", ["-l", "19", "-a", `http://127.0.0.1:${port}/announce`, "-o", torrent, source]);
  if (made.code !== 0) throw new Error(`mktorrent failed: ${made.stderr}`);
  await writeFile(join(dir, "whitelist"), `${infoHash(await readFile(torrent))}\n`);
  children.spawn("opentracker", ["-i", "127.0.0.1", "-p", String(port), "-P", String(port), "-d", dir, "-w", "whitelist"]);
  for (let tries = 0; ; tries++) {
    const probe = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${port}/stats`]);
    if (probe.stdout !== "000") break;
    if (tries > 100) throw new Error("opentracker did not start");
    await sleep(20);
  }
  const hook = join(dir, "done.sh");
  await writeFile(hook, '#!/bin/sh\ndate +%s%3N > "$BENCH_DONE_FILE"\n', { mode: 0o755 });
  const peerArgs = async (address: string, into: string) => [`--interface=${address}`, `--listen-port=${await freePort(address)}`, "-d", into, ...BT_FLAGS];
  return {
    torrent,
    async seeder(address) {
      const into = join(dir, "seeder");
      await mkdir(into, { recursive: true });
      await link(source, join(into, basename(source)));
      return children.spawn("aria2c", [...(await peerArgs(address, into)), "--bt-seed-unverified=true", torrent]);
    },
    async leecher(address, into) {
      const doneFile = `${into}.done`;
      const child = children.spawn("aria2c", [...(await peerArgs(address, into)), `--on-bt-download-complete=${hook}`, torrent], {
        env: { ...process.env, BENCH_DONE_FILE: doneFile },
      });
      const done = (async () => {
        for (;;) {
          const text = await readFile(doneFile, "utf8").catch(() => "");
          if (text.trim()) return Number(text.trim());
          if (child.exitCode !== null) throw new Error(`aria2c on ${address} exited with ${child.exitCode} before completing`);
          await sleep(20);
        }
      })();
      return { process: child, done };
    },
  };
}
