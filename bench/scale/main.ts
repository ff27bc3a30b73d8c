/**
 * The scale-out benchmark: one process against two, and pub/sub through
 * Redis against in-process, in the same run, with a real redis-server
 * started here on a free loopback port.
 *
 * ```sh
 * deno run -A bench/scale/main.ts                  # everything, ~2 minutes
 * deno run -A bench/scale/main.ts --only=echo,fanout --rounds=3
 * ```
 *
 * - `echo`: this library's bare echo (`target.ts`) as 1 and as 2
 *   processes sharing one port (`reusePort`), loaded by the echo
 *   benchmark's TCP load worker (100 connections, 16 B, 16 in flight each,
 *   every echo checked); msgs/s over a 3 s window after 1 s of warm-up.
 *   "pinned": servers on core 0, load on core 1 (`taskset`); "shared":
 *   nobody pinned.
 * - `chat`: the chat example, 50 clients in one room, 5 of them saying one
 *   message after another; messages/s and deliveries/s over 3 s, for one
 *   process in memory, one on Redis and two on Redis (one port).
 * - `fanout`: 1 KiB messages to 1,000 subscribers: one process with all of
 *   them (in-process), against two processes with 500 each and a
 *   `RedisBroker`, published on the first. Publications/s: 200 published
 *   at once, until every subscriber had all of them. Latency: 100 more,
 *   20 ms apart (no queueing), from publishing to arriving at the
 *   subscribers of each process (p50/p99).
 * - `recovery`: a chat client away for 1,000 messages joins the other
 *   process with `since`; the time until its join answer (holding all
 *   1,000, in order) arrives.
 *
 * Cells alternate within a round so that the noise of a shared machine
 * hits both sides alike; the summary keeps each cell's best round.
 *
 * @module
 */

import { Child, killAll } from "../echo/processes.ts";
import { readFlags } from "../flags.ts";
import type { WorkerConfig, WorkerResult } from "../echo/load_worker.ts";
import {
  freeLoopbackPort,
  RedisServer,
} from "../../tests/support/redis_server_deno.ts";

const HERE = new URL(".", import.meta.url);
const TARGET = new URL("target.ts", HERE).pathname;
const SUBSCRIBERS = new URL("subscribers.ts", HERE).pathname;
const CHAT_LOAD = new URL("chat_load.ts", HERE).pathname;
const LOAD_WORKER = new URL("../echo/load_worker.ts", HERE).pathname;
const LINE_TIMEOUT_MS = 60_000;

const options = readFlags(Deno.args);
const rounds = Number(options.get("rounds") ?? 2);
const only = new Set(
  (options.get("only") ?? "echo,chat,fanout,recovery").split(","),
);

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `deno run` of `script` with `config`, on `cores` when given. */
function spawn(
  name: string,
  script: string,
  config: unknown,
  cores?: string,
): Child {
  const args = ["run", "-A", "--unstable-net", script, JSON.stringify(config)];
  if (cores === undefined) return new Child(name, Deno.execPath(), args);
  return new Child(name, "taskset", ["-c", cores, Deno.execPath(), ...args]);
}

async function json<T>(child: Child): Promise<T> {
  return JSON.parse(await child.nextLine(LINE_TIMEOUT_MS)) as T;
}

async function startTargets(
  count: number,
  config: Record<string, unknown>,
  cores?: string,
): Promise<{ children: Child[]; ports: number[] }> {
  const children: Child[] = [];
  const ports: number[] = [];
  for (let index = 0; index < count; index++) {
    const child = spawn(`target ${index + 1}`, TARGET, config, cores);
    children.push(child);
    ports.push((await json<{ port: number }>(child)).port);
  }
  return { children, ports };
}

async function stopAll(children: Child[]): Promise<void> {
  await Promise.all(children.map((child) => child.stop(5_000)));
}

async function echoCell(processes: number, pinned: boolean): Promise<number> {
  const port = freeLoopbackPort();
  const { children } = await startTargets(
    processes,
    { mode: "echo", port },
    pinned ? "0" : undefined,
  );
  const config: WorkerConfig = {
    url: `ws://127.0.0.1:${port}/`,
    transport: "tcp",
    sourceAddresses: 1,
    connections: 100,
    firstConnection: 0,
    size: 16,
    depth: 16,
    connectConcurrency: 50,
    connectTimeoutMs: 20_000,
  };
  const load = spawn("load", LOAD_WORKER, config, pinned ? "1" : undefined);
  try {
    await json(load);
    await load.send("go");
    await delay(1_000);
    await load.send("start");
    await delay(3_000);
    await load.send("stop");
    const result = await json<WorkerResult>(load);
    if (result.mismatches > 0) throw new Error(result.firstMismatch);
    return result.messages / (result.windowMs / 1000);
  } finally {
    await load.stop(5_000);
    await stopAll(children);
  }
}

interface ChatResult {
  messages: number;
  deliveries: number;
  ms: number;
}

async function chatCell(
  processes: number,
  redisUrl: string | undefined,
  pinned: boolean,
): Promise<ChatResult> {
  const port = freeLoopbackPort();
  const { children } = await startTargets(
    processes,
    { mode: "chat", port, redisUrl },
    pinned ? "0" : undefined,
  );
  const load = spawn("chat load", CHAT_LOAD, {
    mode: "broadcast",
    ports: [port],
    clients: 50,
    senders: 5,
    windowMs: 3_000,
  }, pinned ? "1" : undefined);
  try {
    return await json<ChatResult>(load);
  } finally {
    await load.stop(5_000);
    await stopAll(children);
  }
}

interface FanoutResult {
  publicationsPerSecond: number;
  /** Latency when paced, per process. */
  groups: Array<{ count: number; p50: number; p99: number }>;
}

const FANOUT_BURST = 200;
const FANOUT_PACED = 100;
const FANOUT_GAP_MS = 20;

async function fanoutCell(redisUrl: string | undefined): Promise<FanoutResult> {
  const processes = redisUrl === undefined ? 1 : 2;
  const { children, ports } = await startTargets(processes, {
    mode: "fanout",
    port: 0,
    redisUrl,
  });
  const subscribers = spawn("subscribers", SUBSCRIBERS, {
    ports,
    perPort: 1000 / processes,
    phases: [FANOUT_BURST, FANOUT_PACED],
  });
  try {
    await json(subscribers);
    for (const child of children) {
      await child.send("count");
      const { subscribers: count } = await json<{ subscribers: number }>(child);
      if (count !== 1000 / processes) throw new Error(`${count} subscribed`);
    }
    type Phase = { doneAt: number; groups: FanoutResult["groups"] };
    const start = performance.timeOrigin + performance.now();
    await children[0].send(`publish ${FANOUT_BURST} 1024 0`);
    const burst = await json<Phase>(subscribers);
    await children[0].send(`publish ${FANOUT_PACED} 1024 ${FANOUT_GAP_MS}`);
    const paced = await json<Phase>(subscribers);
    return {
      publicationsPerSecond: FANOUT_BURST / ((burst.doneAt - start) / 1000),
      groups: paced.groups,
    };
  } finally {
    await subscribers.stop(5_000);
    await stopAll(children);
  }
}

async function recoveryCell(
  redisUrl: string,
): Promise<Record<string, unknown>> {
  const { children, ports } = await startTargets(2, {
    mode: "chat",
    port: 0,
    redisUrl,
    historySize: 2_000,
  });
  const load = spawn("recovery", CHAT_LOAD, {
    mode: "recovery",
    ports,
    count: 1_000,
  });
  try {
    return await json(load);
  } finally {
    await load.stop(5_000);
    await stopAll(children);
  }
}

function best<T>(values: T[], score: (value: T) => number): T {
  return values.reduce((a, b) => score(b) > score(a) ? b : a);
}

const redis = await RedisServer.start();
const cleanUp = async () => {
  await killAll();
  await redis.stop();
};
Deno.addSignalListener(
  "SIGINT",
  () => void cleanUp().then(() => Deno.exit(130)),
);
try {
  const echo = new Map<string, number[]>();
  const chat = new Map<string, ChatResult[]>();
  const fanout = new Map<string, FanoutResult[]>();
  const recovery: Array<Record<string, unknown>> = [];
  for (let round = 0; round < rounds; round++) {
    if (only.has("echo")) {
      for (const pinned of [true, false]) {
        const order = round % 2 === 0 ? [1, 2] : [2, 1];
        for (const processes of order) {
          const key = `${processes} ${pinned ? "pinned" : "shared"}`;
          const rate = await echoCell(processes, pinned);
          console.log(`echo ${key}: ${Math.round(rate)} msgs/s`);
          echo.set(key, [...(echo.get(key) ?? []), rate]);
        }
      }
    }
    if (only.has("chat")) {
      const cells: Array<[string, number, string | undefined]> = [
        ["1 memory", 1, undefined],
        ["1 redis", 1, redis.url],
        ["2 redis", 2, redis.url],
      ];
      if (round % 2 === 1) cells.reverse();
      for (const pinned of [true, false]) {
        for (const [name, processes, url] of cells) {
          const key = `${name} ${pinned ? "pinned" : "shared"}`;
          const result = await chatCell(processes, url, pinned);
          console.log(
            `chat ${key}: ${
              Math.round(result.messages / (result.ms / 1000))
            } msgs/s, ${
              Math.round(result.deliveries / (result.ms / 1000))
            } deliveries/s`,
          );
          chat.set(key, [...(chat.get(key) ?? []), result]);
        }
      }
    }
    if (only.has("fanout")) {
      const cells: Array<[string, string | undefined]> = [
        ["in-process", undefined],
        ["redis", redis.url],
      ];
      if (round % 2 === 1) cells.reverse();
      for (const [name, url] of cells) {
        const result = await fanoutCell(url);
        const latency = result.groups.map((group) =>
          `p50 ${group.p50.toFixed(2)} ms p99 ${group.p99.toFixed(2)} ms`
        ).join(" | ");
        console.log(
          `fanout ${name}: ${
            Math.round(result.publicationsPerSecond)
          } publications/s to 1000; latency ${latency}`,
        );
        fanout.set(name, [...(fanout.get(name) ?? []), result]);
      }
    }
    if (only.has("recovery")) {
      const result = await recoveryCell(redis.url);
      console.log(`recovery: ${JSON.stringify(result)}`);
      recovery.push(result);
    }
  }
  console.log(`\nbest of ${rounds} rounds:`);
  for (const mode of ["pinned", "shared"]) {
    const one = echo.get(`1 ${mode}`);
    const two = echo.get(`2 ${mode}`);
    if (one === undefined || two === undefined) continue;
    const a = Math.max(...one);
    const b = Math.max(...two);
    console.log(
      `echo ${mode}: 1 process ${Math.round(a)} msgs/s, 2 processes ${
        Math.round(b)
      } msgs/s: ${(b / a).toFixed(2)}x`,
    );
  }
  for (const mode of ["pinned", "shared"]) {
    const rate = (name: string) => {
      const results = chat.get(`${name} ${mode}`);
      if (results === undefined) return NaN;
      const top = best(results, (r) => r.deliveries / r.ms);
      return top.deliveries / (top.ms / 1000);
    };
    const memory = rate("1 memory");
    if (Number.isNaN(memory)) continue;
    const one = rate("1 redis");
    const two = rate("2 redis");
    console.log(
      `chat ${mode} deliveries/s: 1 in memory ${
        Math.round(memory)
      }, 1 on Redis ${Math.round(one)} (${
        (one / memory).toFixed(2)
      }x), 2 on Redis ${Math.round(two)} (${
        (two / one).toFixed(2)
      }x of 1 on Redis)`,
    );
  }
  const local = fanout.get("in-process");
  const remote = fanout.get("redis");
  if (local !== undefined && remote !== undefined) {
    const a = best(local, (r) => r.publicationsPerSecond);
    const b = best(remote, (r) => r.publicationsPerSecond);
    console.log(
      `fanout publications/s: in-process ${
        Math.round(a.publicationsPerSecond)
      }, through Redis ${Math.round(b.publicationsPerSecond)} (${
        (b.publicationsPerSecond / a.publicationsPerSecond).toFixed(2)
      }x); latency p50/p99 in-process ${a.groups[0].p50.toFixed(2)}/${
        a.groups[0].p99.toFixed(2)
      } ms, publisher's process ${b.groups[0].p50.toFixed(2)}/${
        b.groups[0].p99.toFixed(2)
      } ms, other process (through Redis) ${b.groups[1].p50.toFixed(2)}/${
        b.groups[1].p99.toFixed(2)
      } ms`,
    );
  }
  if (recovery.length > 0) {
    const times = recovery.map((result) => Number(result.ms));
    console.log(
      `recovery of 1,000 missed messages: ${Math.min(...times).toFixed(1)}-${
        Math.max(...times).toFixed(1)
      } ms; all complete and in order: ${
        recovery.every((r) => r.recovered === true && r.inOrder === true)
      }`,
    );
  }
} finally {
  await cleanUp();
}
