/**
 * `deno run -A bench/redis_clients.ts [rounds]`: the two well-kept npm Redis
 * clients, `@redis/client` (node-redis 5) and `ioredis` 5, doing what the
 * Redis broker does, against one real redis-server started here, in the
 * same run, alternating round by round:
 *
 * - publish: 20,000 PUBLISHes of 1 KiB sent without waiting, until a
 *   subscriber (the same client library) received the last one: msgs/s;
 * - round trip: one PUBLISH at a time, timed until the subscriber has it:
 *   p50 and p99 in microseconds over 2,000 messages.
 *
 * Prints one line per client and round, then the best of each as a ratio
 * (node-redis / ioredis).
 *
 * @module
 */

import { createClient } from "@redis/client";
import { Redis } from "ioredis";
import { RedisServer } from "../tests/support/redis_server_deno.ts";

const PIPELINED = 20_000;
const ROUND_TRIPS = 2_000;
const PAYLOAD = new Uint8Array(1024).fill(0x61);

interface Result {
  msgsPerSecond: number;
  p50: number;
  p99: number;
}

/** What each client must offer the benchmark. */
interface Pair {
  publish(channel: string, data: Uint8Array): Promise<unknown>;
  /** Calls `received` for every message on `channel`. */
  subscribe(channel: string, received: () => void): Promise<void>;
  close(): Promise<void>;
}

async function nodeRedis(url: string): Promise<Pair> {
  const publisher = createClient({ url });
  await publisher.connect();
  const subscriber = publisher.duplicate();
  await subscriber.connect();
  return {
    publish: (channel, data) => publisher.publish(channel, Buffer.from(data)),
    subscribe: (channel, received) =>
      subscriber.subscribe(channel, () => received(), true),
    async close() {
      await subscriber.quit();
      await publisher.quit();
    },
  };
}

async function ioredis(url: string): Promise<Pair> {
  const publisher = new Redis(url);
  const subscriber = new Redis(url);
  await Promise.all([publisher.ping(), subscriber.ping()]);
  return {
    publish: (channel, data) => publisher.publish(channel, Buffer.from(data)),
    async subscribe(channel, received) {
      subscriber.on("messageBuffer", () => received());
      await subscriber.subscribe(channel);
    },
    async close() {
      await subscriber.quit();
      await publisher.quit();
    },
  };
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[
    Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))
  ];
}

async function measure(pair: Pair, channel: string): Promise<Result> {
  let count = 0;
  let arrived: (() => void) | null = null;
  let wanted = 0;
  await pair.subscribe(channel, () => {
    count++;
    if (count === wanted) arrived?.();
  });
  const until = (total: number) =>
    new Promise<void>((resolve) => {
      wanted = total;
      arrived = resolve;
      if (count >= total) resolve();
    });
  const start = performance.now();
  const all = until(PIPELINED);
  for (let index = 0; index < PIPELINED; index++) {
    void pair.publish(channel, PAYLOAD);
  }
  await all;
  const msgsPerSecond = PIPELINED / ((performance.now() - start) / 1000);
  const samples: number[] = [];
  for (let index = 0; index < ROUND_TRIPS; index++) {
    const sent = performance.now();
    const one = until(count + 1);
    await pair.publish(channel, PAYLOAD);
    await one;
    samples.push((performance.now() - sent) * 1000);
  }
  samples.sort((a, b) => a - b);
  return {
    msgsPerSecond,
    p50: percentile(samples, 0.5),
    p99: percentile(samples, 0.99),
  };
}

const rounds = Number(Deno.args[0] ?? 3);
const redis = await RedisServer.start();
const best = new Map<string, Result>();
try {
  const clients: Array<[string, (url: string) => Promise<Pair>]> = [
    ["node-redis", nodeRedis],
    ["ioredis", ioredis],
  ];
  for (let round = 0; round < rounds; round++) {
    for (const [name, open] of clients) {
      const pair = await open(redis.url);
      const result = await measure(pair, `bench:${name}:${round}`);
      await pair.close();
      console.log(
        `${name.padEnd(10)} round ${round}: ${
          Math.round(result.msgsPerSecond)
        } msgs/s pipelined, round trip p50 ${result.p50.toFixed(0)} us, p99 ${
          result.p99.toFixed(0)
        } us`,
      );
      const previous = best.get(name);
      best.set(name, {
        msgsPerSecond: Math.max(
          previous?.msgsPerSecond ?? 0,
          result.msgsPerSecond,
        ),
        p50: Math.min(previous?.p50 ?? Infinity, result.p50),
        p99: Math.min(previous?.p99 ?? Infinity, result.p99),
      });
    }
  }
} finally {
  await redis.stop();
}
const a = best.get("node-redis")!;
const b = best.get("ioredis")!;
console.log(
  `best of ${rounds}, node-redis / ioredis: msgs/s ${
    (a.msgsPerSecond / b.msgsPerSecond).toFixed(2)
  }x, p50 ${(a.p50 / b.p50).toFixed(2)}x, p99 ${(a.p99 / b.p99).toFixed(2)}x`,
);
