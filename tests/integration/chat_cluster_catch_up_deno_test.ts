// Deno only: a chat process's room feed, in this process, on a real
// redis-server reached through a relay the test controls. When the feed's
// subscriber connection is lost and comes back, the feed delivers what was
// published meanwhile, even when a live entry arrives in the same read as
// the confirmation of the resubscription (before the Redis client says it
// is ready): the race behind entries lost in the Redis-restart test of
// tests/integration/chat_cluster_deno_test.ts.
import assert from "node:assert/strict";
import type { Server } from "../../mod.ts";
import { ChatCluster } from "../../examples/chat/cluster.ts";
import { ClusterStore } from "../../examples/chat/cluster_store.ts";
import { RedisServer, skipWithoutRedis } from "../support/redis_server_deno.ts";
import { TcpProxy } from "../support/chat/tcp_proxy.ts";
import { withDeadline } from "../interop/peers/bounded.ts";

const ignore = skipWithoutRedis();
const TEST_DEADLINE_MS = 30_000;

/** A log that can wait for a line starting with some text. */
class Log {
  readonly lines: string[] = [];
  #waiters: Array<{ start: string; resolve: () => void }> = [];

  readonly write = (line: string): void => {
    this.lines.push(line);
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (line.startsWith(waiter.start)) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  };

  next(start: string): Promise<void> {
    return new Promise((resolve) => this.#waiters.push({ start, resolve }));
  }
}

Deno.test(
  "chat cluster feed: a live entry read with the resubscription does not skip the entries missed",
  { ignore, sanitizeOps: false, sanitizeResources: false },
  async () => {
    const redis = await RedisServer.start();
    const proxy = new TcpProxy(redis.port);
    const log = new Log();
    const delivered: string[] = [];
    const server = {
      publish(_topic: string, json: string): void {
        delivered.push(JSON.parse(json).text);
      },
    } as unknown as Server;
    let cluster: ChatCluster | null = null;
    let other: ClusterStore | null = null;
    try {
      await withDeadline(
        (async () => {
          cluster = await ChatCluster.start(
            { url: `redis://127.0.0.1:${proxy.port}`, log: log.write },
            () => server,
            log.write,
          );
          // Another process's store, straight to Redis.
          other = await ClusterStore.connect({ url: redis.url, log() {} });
          const append = (text: string) =>
            other!.append("lobby", JSON.stringify({ type: "message", text }));
          const feed = await cluster.openFeed("lobby");
          await feed.delivered(await append("before"));

          proxy.holdReplies();
          const lost = log.next("lost Redis");
          await proxy.cut();
          await lost;
          await append("missed");
          // The subscriber is back (its SUBSCRIBE reached Redis) but has
          // not read the confirmation, which is held with what follows it.
          await proxy.heldContains("room:lobby:live");
          const live = await append("live");
          await proxy.heldContains(live);
          proxy.releaseReplies();
          await feed.delivered(live);
          assert.deepEqual(delivered, ["before", "missed", "live"]);
        })(),
        TEST_DEADLINE_MS,
        "the test",
      );
    } finally {
      await (cluster as ChatCluster | null)?.close();
      await (other as ClusterStore | null)?.close();
      await proxy.close();
      await redis.stop();
    }
  },
);
