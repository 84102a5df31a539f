/**
 * Capped uploads on loopback with tc: an htb qdisc on lo whose unmatched
 * traffic passes unshaped (`default ffff` names no class), and one htb class
 * per capped sender, chosen by a u32 filter on what the sender's packets
 * carry: its source address and port (an HTTP server: what it uploads), or its
 * source address alone (a BitTorrent peer, whose connections carry data both
 * ways). Each class's byte counter says what that sender uploaded.
 *
 * The qdisc is removed when the bench ends however it ends, and a stale one
 * left by a killed run is removed before a new one is added. Needs root.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { atExit } from "../support/processes.js";

export interface Link {
  /** Shown in reports: which sender this is. */
  name: string;
  /** Upload cap. */
  mbit: number;
  /** Whose packets: source address, and the source port for a server. */
  match: { address: string; port?: number };
}

const DEVICE = "lo";

function classId(index: number): string {
  return `1:${(index + 0x10).toString(16)}`;
}

/** The tc argument lists that install `links` (pure, unit-testable). */
export function shapingCommands(links: readonly Link[]): string[][] {
  const commands = [["qdisc", "add", "dev", DEVICE, "root", "handle", "1:", "htb", "default", "ffff"]];
  links.forEach((link, index) => {
    const id = classId(index);
    const rate = `${link.mbit}mbit`;
    // quantum: one 64 KiB loopback packet per round; the default (rate / 10) is over htb's limit and only warns.
    commands.push(["class", "add", "dev", DEVICE, "parent", "1:", "classid", id, "htb", "rate", rate, "ceil", rate, "quantum", "65536"]);
    const match = ["match", "ip", "src", `${link.match.address}/32`];
    if (link.match.port !== undefined) match.push("match", "ip", "sport", String(link.match.port), "0xffff");
    commands.push(["filter", "add", "dev", DEVICE, "parent", "1:", "protocol", "ip", "prio", "1", "u32", ...match, "flowid", id]);
  });
  return commands;
}

/** Bytes sent per class id, from `tc -s class show` (pure). */
export function parseClassBytes(text: string): Map<string, number> {
  const bytes = new Map<string, number>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    const head = /^class htb (\S+)/.exec(line);
    if (head) current = head[1];
    const sent = /^\s*Sent (\d+) bytes/.exec(line);
    if (sent && current) {
      bytes.set(current, Number(sent[1]));
      current = undefined;
    }
  }
  return bytes;
}

function tc(args: string[]): string {
  return execFileSync("tc", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function removeQdisc(): void {
  try {
    tc(["qdisc", "del", "dev", DEVICE, "root"]);
  } catch {
    // none installed
  }
}

let exitHookInstalled = false;

/** Installed links; `remove()` when the scenario is done (and at exit regardless). */
export class Shaping {
  readonly links: readonly Link[];

  private constructor(links: readonly Link[]) {
    this.links = links;
  }

  static install(links: readonly Link[]): Shaping {
    if (!exitHookInstalled) {
      atExit(removeQdisc);
      exitHookInstalled = true;
    }
    // A run killed with SIGKILL cannot clean up: its qdisc is still there.
    if (/qdisc htb 1: root/.test(tc(["qdisc", "show", "dev", DEVICE]))) removeQdisc();
    for (const command of shapingCommands(links)) tc(command);
    return new Shaping(links);
  }

  /** Bytes each link's sender has sent so far, by link name. */
  sentBytes(): Map<string, number> {
    const byClass = parseClassBytes(tc(["-s", "class", "show", "dev", DEVICE]));
    return new Map(this.links.map((link, index) => [link.name, byClass.get(classId(index)) ?? 0]));
  }

  /** The same without blocking the event loop (agents' trackers and delay proxies run in this process). */
  async sentBytesNow(): Promise<Map<string, number>> {
    const { stdout } = await promisify(execFile)("tc", ["-s", "class", "show", "dev", DEVICE], { encoding: "utf8" });
    const byClass = parseClassBytes(stdout);
    if (this.links.length > 0 && !this.links.some((_, index) => byClass.has(classId(index)))) {
      // Another process removed the qdisc (a second bench run installing its own): the links run uncapped.
      throw new Error("the tc qdisc on lo vanished during this row (another process removed it): the row's figures are void");
    }
    return new Map(this.links.map((link, index) => [link.name, byClass.get(classId(index)) ?? 0]));
  }

  /** Samples every link's byte counter every `everyMs` until stopped: who uploaded what, when. */
  sample(everyMs = 100): LinkSampler {
    return new LinkSampler(this, everyMs);
  }

  remove(): void {
    removeQdisc();
  }
}

export interface Sample {
  /** ms since the sampler started */
  t: number;
  bytes: Map<string, number>;
}

export class LinkSampler {
  readonly samples: Sample[] = [];
  readonly #shaping: Shaping;
  readonly #started = performance.now();
  #stopped = false;
  #waiters: { test: (sample: Sample) => boolean; resolve: (sample: Sample) => void; reject: (error: Error) => void }[] = [];
  #failed: Error | undefined;
  readonly #loop: Promise<void>;

  constructor(shaping: Shaping, everyMs: number) {
    this.#shaping = shaping;
    this.#loop = this.#run(everyMs);
    this.#loop.catch(() => undefined); // seen by stop(), not as an unhandled rejection meanwhile
  }

  async #run(everyMs: number): Promise<void> {
    try {
      while (!this.#stopped) {
        const sample = { t: performance.now() - this.#started, bytes: await this.#shaping.sentBytesNow() };
        this.samples.push(sample);
        this.#waiters = this.#waiters.filter((waiter) => (waiter.test(sample) ? (waiter.resolve(sample), false) : true));
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    } catch (error) {
      // A failed sample ends the loop: whoever waits for a sample, and stop() at the row's end, get the error.
      this.#failed = error as Error;
      for (const waiter of this.#waiters) waiter.reject(this.#failed);
      this.#waiters = [];
      throw error;
    }
  }

  /** Resolves at the first sample for which `test` holds. */
  until(test: (sample: Sample) => boolean): Promise<Sample> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => this.#waiters.push({ test, resolve, reject }));
  }

  async stop(): Promise<Sample[]> {
    this.#stopped = true;
    await this.#loop;
    return this.samples;
  }

  /** Bytes each link sent between the first and the last sample. */
  delta(): Map<string, number> {
    const first = this.samples[0]?.bytes ?? new Map<string, number>();
    const last = this.samples.at(-1)?.bytes ?? new Map<string, number>();
    return new Map([...last].map(([name, bytes]) => [name, bytes - (first.get(name) ?? 0)]));
  }

  /**
   * From the first sample in which these links had sent anything to the first
   * in which they had sent all they sent (ms, as fine as the sampling): the
   * transfer itself, without what a program does before its first byte and
   * after its last.
   */
  activeMs(names: readonly string[]): number {
    const sum = (sample: Sample) => names.reduce((total, name) => total + (sample.bytes.get(name) ?? 0), 0);
    const [first, last] = [this.samples[0], this.samples.at(-1)];
    if (!first || !last) return NaN;
    const start = this.samples.find((sample) => sum(sample) > sum(first));
    const end = this.samples.find((sample) => sum(sample) >= sum(last));
    return start && end ? end.t - start.t : NaN;
  }

  /**
   * Mbit/s of each link per `bucketMs` from the first sample, as text rows
   * ("t=0.5s seed0 190 seed1 0 ..."): which peers served when, idle gaps.
   */
  timeline(bucketMs = 500, names?: readonly string[]): string[] {
    const rows: string[] = [];
    const links = names ?? this.#shaping.links.map((link) => link.name);
    let previous = this.samples[0];
    if (!previous) return rows;
    for (const sample of this.samples) {
      if (sample.t - previous.t < bucketMs && sample !== this.samples.at(-1)) continue;
      const span = (sample.t - previous.t) / 1000;
      if (span <= 0) continue;
      const rates = links.map((name) => {
        const mbit = (((sample.bytes.get(name) ?? 0) - (previous!.bytes.get(name) ?? 0)) * 8) / 1e6 / span;
        return `${name} ${Math.round(mbit)}`;
      });
      rows.push(`t=${(sample.t / 1000).toFixed(1)}s ${rates.join(" ")}`);
      previous = sample;
    }
    return rows;
  }
}
