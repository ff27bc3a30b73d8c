// Deno only: two servers in this process, each with its own RedisBroker on
// one real redis-server (started here on a free loopback port), stand for
// two processes: a publication on one reaches the other's subscribers,
// text and binary, on topics with any characters, never twice on its own;
// Redis restarted mid-way is reported once each way and resubscribed; Redis
// down at start is a BrokerError. (The two-process chat tests run real
// processes: tests/integration/chat_cluster_deno_test.ts.)
import assert from "node:assert/strict";
import { serve, type Server, upgradeWebSocket } from "../../mod.ts";
import { BrokerError, RedisBroker } from "../../redis.ts";
import {
  freeLoopbackPort,
  RedisServer,
  skipWithoutRedis,
} from "../support/redis_server_deno.ts";
import { TestClient } from "../support/chat/ws_client.ts";
import { withDeadline } from "../interop/peers/bounded.ts";

const ignore = skipWithoutRedis();
const TEST_DEADLINE_MS = 30_000;

/** Sockets closed on the servers, with a wait for the next one. */
let socketClosed: () => void = () => {};

/** A server whose sockets subscribe to the topics named in the URL
 * (`/?t=a&t=b`) and publish every message they receive to topic `to`. */
function startPubSubServer(broker: RedisBroker): Server {
  return serve(
    { port: 0, hostname: "127.0.0.1", onListen() {}, broker },
    (request) => {
      const url = new URL(request.url);
      const { socket, response } = upgradeWebSocket(request);
      socket.onopen = () => {
        for (const topic of url.searchParams.getAll("t")) {
          socket.subscribe(topic);
        }
        socket.send("subscribed");
      };
      socket.onclose = () => socketClosed();
      const target = url.searchParams.get("to");
      socket.onmessage = (event) => {
        if (target !== null) socket.publish(target, event.data);
      };
      return response;
    },
  );
}

/** The brokers' reports, with a wait for the next ones. */
class Reports {
  readonly all: BrokerError[] = [];
  #waiting: { count: number; resolve: () => void } | null = null;

  push(error: BrokerError): void {
    this.all.push(error);
    if (this.#waiting !== null && this.all.length >= this.#waiting.count) {
      this.#waiting.resolve();
    }
  }

  /** Resolves once `count` reports came. */
  until(count: number): Promise<void> {
    if (this.all.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiting = { count, resolve });
  }
}

interface Cluster {
  redis: RedisServer;
  brokers: [RedisBroker, RedisBroker];
  servers: [Server, Server];
  reports: Reports;
  open(server: Server, query: string): Promise<TestClient>;
}

async function withCluster(body: (cluster: Cluster) => Promise<void>) {
  const redis = await RedisServer.start();
  const reports = new Reports();
  const brokers: RedisBroker[] = [];
  const servers: Server[] = [];
  const clients: TestClient[] = [];
  try {
    for (let index = 0; index < 2; index++) {
      brokers.push(
        await RedisBroker.connect({
          url: redis.url,
          onError: (error) => reports.push(error),
        }),
      );
      servers.push(startPubSubServer(brokers[index]));
    }
    await withDeadline(
      body({
        redis,
        brokers: brokers as [RedisBroker, RedisBroker],
        servers: servers as [Server, Server],
        reports,
        async open(server, query) {
          const client = await TestClient.open(
            `ws://127.0.0.1:${server.addr.port}/?${query}`,
          );
          clients.push(client);
          assert.equal(await client.next(), "subscribed");
          return client;
        },
      }),
      TEST_DEADLINE_MS,
      "the test",
    );
  } finally {
    for (const client of clients) await client.close();
    for (const server of servers) await server.shutdown();
    for (const broker of brokers) await broker.close();
    await redis.stop();
  }
}

/** Publishes on `server` and waits for `client` (on the other) to have it. */
async function broadcastRoundTrip(
  server: Server,
  client: TestClient,
  text: string,
): Promise<void> {
  server.publish("news", text);
  assert.equal(await client.next(), text);
}

/** Waits until every broker's subscriptions are in place at Redis. */
async function settled(brokers: RedisBroker[]): Promise<void> {
  for (const broker of brokers) await broker.subscribed();
}

const options = { ignore, sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "redis broker: server.publish reaches the subscribers of both processes, once each",
  options,
  () =>
    withCluster(async ({ brokers, servers, open }) => {
      const onA = await open(servers[0], "t=news");
      const onB = await open(servers[1], "t=news");
      await settled(brokers);
      assert.equal(servers[0].publish("news", "first"), 1);
      servers[0].publish("news", "second");
      assert.equal(await onB.next(), "first");
      assert.equal(await onB.next(), "second");
      servers[1].publish("news", new Uint8Array([0, 1, 2, 255]));
      assert.deepEqual(
        new Uint8Array(await onB.next() as ArrayBuffer),
        new Uint8Array([0, 1, 2, 255]),
      );
      // A's own publications come once (not again through Redis): the
      // message after "second" is B's.
      assert.equal(await onA.next(), "first");
      assert.equal(await onA.next(), "second");
      assert.deepEqual(
        new Uint8Array(await onA.next() as ArrayBuffer),
        new Uint8Array([0, 1, 2, 255]),
      );
      servers[1].publish("news", "last");
      assert.equal(await onA.next(), "last");
      assert.equal(await onB.next(), "last");
    }),
);

Deno.test(
  "redis broker: topics with any characters, and socket.publish skipping only the publisher",
  options,
  () =>
    withCluster(async ({ brokers, servers, open }) => {
      const topic = "r\u00e4um 🎉 *?[a] \n\0:x";
      const query = `t=${encodeURIComponent(topic)}&to=${
        encodeURIComponent(topic)
      }`;
      const other = await open(servers[0], `t=${encodeURIComponent("r")}`);
      const speaker = await open(servers[0], query);
      const neighbour = await open(servers[0], query);
      const remote = await open(servers[1], query);
      await settled(brokers);
      speaker.socket.send("hello \u{1F30D}");
      assert.equal(await neighbour.next(), "hello \u{1F30D}");
      assert.equal(await remote.next(), "hello \u{1F30D}");
      remote.socket.send("back");
      assert.equal(await speaker.next(), "back");
      assert.equal(await neighbour.next(), "back");
      // Neither the speaker nor the "r" subscriber got anything else.
      servers[0].publish("r", "only r");
      assert.equal(await other.next(), "only r");
      speaker.socket.send("again");
      assert.equal(await remote.next(), "again");
      assert.equal(await neighbour.next(), "again");
    }),
);

Deno.test(
  "redis broker: a topic is subscribed at Redis while it has local subscribers",
  options,
  () =>
    withCluster(async ({ brokers, servers, open }) => {
      assert.equal(brokers[1].topicCount, 0);
      const client = await open(servers[1], "t=a&t=b");
      assert.equal(brokers[1].topicCount, 2);
      const closed = new Promise<void>((resolve) => socketClosed = resolve);
      await client.close();
      await withDeadline(closed, 5_000, "the server's socket closing");
      assert.equal(servers[1].subscriberCount("a"), 0);
      assert.equal(brokers[1].topicCount, 0);
    }),
);

Deno.test(
  "redis broker: Redis restarted mid-way is reported once lost and once back, and topics are resubscribed",
  options,
  () =>
    withCluster(async ({ redis, brokers, servers, reports, open }) => {
      const onB = await open(servers[1], "t=news");
      await settled(brokers);
      servers[0].publish("news", "before");
      assert.equal(await onB.next(), "before");
      await redis.kill();
      await redis.restart();
      // Both brokers report the loss, then the recovery, once each.
      await withDeadline(reports.until(4), 10_000, "both brokers reconnecting");
      await settled(brokers);
      await broadcastRoundTrip(servers[0], onB, "after");
      const lines = reports.all.map((report) =>
        report.message.split(" at ")[0]
      );
      assert.deepEqual(lines.sort(), [
        "lost Redis",
        "lost Redis",
        "reconnected to Redis",
        "reconnected to Redis",
      ]);
      assert.ok(reports.all.every((report) => report.phase === "connection"));
    }),
);

Deno.test(
  "redis broker: Redis down at start is a BrokerError naming the URL",
  { ignore },
  async () => {
    const url = `redis://127.0.0.1:${freeLoopbackPort()}`;
    await assert.rejects(
      () => RedisBroker.connect({ url, connectAttempts: 2 }),
      (error: unknown) => {
        assert.ok(error instanceof BrokerError);
        assert.equal(error.phase, "connect");
        assert.match(error.message, new RegExp(url));
        return true;
      },
    );
  },
);
