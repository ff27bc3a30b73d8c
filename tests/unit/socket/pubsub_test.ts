// Pub/sub on sockets over in-memory connections: fan-out, exclusion of the
// publisher, unsubscribing, closing, ordering with direct sends, one
// encoding for every subscriber and per-subscriber backpressure.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../../../frame/types.ts";
import { TopicRegistry } from "../../../socket/pubsub.ts";
import {
  attachConnection,
  createPendingSocket,
  queueEncodedFrame,
  type WebSocketConnection,
} from "../../../socket/websocket.ts";
import type { WebSocketOptions } from "../../../socket/options.ts";
import type {
  Broker,
  BrokerData,
  BrokerDelivery,
} from "../../../socket/broker.ts";
import {
  closeCodeOf,
  decoder,
  FakeConn,
  record,
} from "../../support/websocket.ts";

/** A FakeConn that also keeps the exact arrays `write` was given. */
class IdentityConn extends FakeConn {
  readonly given: Uint8Array[] = [];
  override write(data: Uint8Array): Promise<number> {
    this.given.push(data);
    return super.write(data);
  }
}

interface Subscriber {
  socket: WebSocketConnection;
  conn: IdentityConn;
  log: string[];
  done: Promise<void>;
}

function openSubscriber(
  topics: TopicRegistry<WebSocketConnection>,
  options: WebSocketOptions = {},
): Subscriber {
  const socket = createPendingSocket(
    "server",
    { pingInterval: 0, ...options },
    topics,
  );
  const log = record(socket);
  const conn = new IdentityConn();
  const done = attachConnection(socket, conn, new Uint8Array(0), {
    protocol: "",
    extensions: "",
  });
  return { socket, conn, log, done };
}

/** The text payloads of the text frames a subscriber received. */
function texts(subscriber: Subscriber): string[] {
  return subscriber.conn.frames()
    .filter((frame) => frame.opcode === Opcode.Text)
    .map((frame) => decoder.decode(frame.payload));
}

async function closeAll(subscribers: Subscriber[]): Promise<void> {
  for (const { conn } of subscribers) conn.end();
  await Promise.all(subscribers.map(({ done }) => done));
}

/** A broker that records what the registry asks of it. */
class RecordingBroker implements Broker {
  readonly calls: string[] = [];
  deliver: BrokerDelivery | null = null;
  attach(deliver: BrokerDelivery): void {
    this.deliver = deliver;
  }
  detach(): void {
    this.deliver = null;
  }
  subscribe(topic: string): void {
    this.calls.push(`subscribe ${topic}`);
  }
  unsubscribe(topic: string): void {
    this.calls.push(`unsubscribe ${topic}`);
  }
  publish(topic: string, data: BrokerData): void {
    const shown = typeof data === "string" ? data : `bytes ${[...data]}`;
    this.calls.push(`publish ${topic} ${shown}`);
  }
}

describe("pub/sub with a broker", () => {
  test("a topic is subscribed at the broker by its first subscriber and left by its last", async () => {
    const broker = new RecordingBroker();
    const topics = new TopicRegistry(queueEncodedFrame, broker);
    const [alice, bob] = [1, 2].map(() => openSubscriber(topics));
    alice.socket.subscribe("room");
    bob.socket.subscribe("room");
    alice.socket.unsubscribe("room");
    assert.deepEqual(broker.calls, ["subscribe room"]);
    await closeAll([bob]);
    assert.deepEqual(broker.calls, ["subscribe room", "unsubscribe room"]);
    await closeAll([alice]);
  });

  test("publications go to local subscribers and the broker; deliveries only to local subscribers", async () => {
    const broker = new RecordingBroker();
    const topics = new TopicRegistry(queueEncodedFrame, broker);
    const [alice, bob] = [1, 2].map(() => openSubscriber(topics));
    alice.socket.subscribe("room");
    bob.socket.subscribe("room");
    assert.equal(alice.socket.publish("room", "from alice"), 1);
    assert.equal(topics.publish("room", new Uint8Array([7, 8])), 2);
    assert.equal(topics.deliver("room", "from elsewhere"), 2);
    await Promise.all([alice, bob].map(({ socket }) => socket.drained()));
    assert.deepEqual(texts(alice), ["from elsewhere"]);
    assert.deepEqual(texts(bob), ["from alice", "from elsewhere"]);
    assert.deepEqual(broker.calls, [
      "subscribe room",
      "publish room from alice",
      "publish room bytes 7,8",
    ]);
    await closeAll([alice, bob]);
  });
});

describe("pub/sub", () => {
  test("a published message reaches every subscriber of its topic only", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const subscribers = Array.from({ length: 5 }, () => openSubscriber(topics));
    for (const { socket } of subscribers) socket.subscribe("news");
    const other = openSubscriber(topics);
    other.socket.subscribe("sports");
    assert.equal(topics.subscriberCount("news"), 5);
    assert.equal(topics.publish("news", "extra!"), 5);
    assert.equal(topics.publish("nobody-listens", "hello?"), 0);
    await Promise.all(subscribers.map(({ socket }) => socket.drained()));
    for (const subscriber of subscribers) {
      assert.deepEqual(texts(subscriber), ["extra!"]);
    }
    assert.deepEqual(other.conn.writes, []);
    await closeAll([...subscribers, other]);
  });

  test("socket.publish skips the publisher; server-wide publish does not", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const [alice, bob, carol] = [1, 2, 3].map(() => openSubscriber(topics));
    for (const { socket } of [alice, bob, carol]) socket.subscribe("room");
    assert.equal(alice.socket.publish("room", "from alice"), 2);
    assert.equal(topics.publish("room", "from the server"), 3);
    await Promise.all(
      [alice, bob, carol].map(({ socket }) => socket.drained()),
    );
    assert.deepEqual(texts(alice), ["from the server"]);
    assert.deepEqual(texts(bob), ["from alice", "from the server"]);
    assert.deepEqual(texts(carol), ["from alice", "from the server"]);
    await closeAll([alice, bob, carol]);
  });

  test("binary data is sent as a binary frame, copied at publish time", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const subscriber = openSubscriber(topics);
    subscriber.socket.subscribe("bytes");
    const data = new Uint8Array([1, 2, 3, 4]);
    assert.equal(topics.publish("bytes", data.subarray(1, 3)), 1);
    data.fill(0);
    await subscriber.socket.drained();
    const [frame] = subscriber.conn.frames();
    assert.equal(frame.opcode, Opcode.Binary);
    assert.deepEqual([...frame.payload], [2, 3]);
    await closeAll([subscriber]);
  });

  test("unsubscribe stops delivery; a topic without subscribers is removed", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const [first, second] = [1, 2].map(() => openSubscriber(topics));
    first.socket.subscribe("t");
    second.socket.subscribe("t");
    first.socket.subscribe("t"); // twice is once
    assert.equal(topics.subscriberCount("t"), 2);
    assert.equal(first.socket.isSubscribed("t"), true);
    first.socket.unsubscribe("t");
    first.socket.unsubscribe("t"); // not subscribed any more: nothing happens
    assert.equal(first.socket.isSubscribed("t"), false);
    assert.equal(topics.publish("t", "only second"), 1);
    second.socket.unsubscribe("t");
    assert.equal(topics.subscriberCount("t"), 0);
    assert.equal(topics.topicCount, 0);
    assert.equal(topics.publish("t", "nobody"), 0);
    await second.socket.drained();
    assert.deepEqual(texts(first), []);
    assert.deepEqual(texts(second), ["only second"]);
    await closeAll([first, second]);
  });

  test("closing drops every subscription; a closed socket cannot subscribe", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const leaving = openSubscriber(topics);
    const staying = openSubscriber(topics);
    leaving.socket.subscribe("a");
    leaving.socket.subscribe("b");
    staying.socket.subscribe("b");
    assert.deepEqual(leaving.socket.subscriptions, ["a", "b"]);
    leaving.conn.end(); // the peer goes away without a close frame
    await leaving.done;
    assert.deepEqual(leaving.socket.subscriptions, []);
    assert.equal(topics.subscriberCount("a"), 0);
    assert.equal(topics.subscriberCount("b"), 1);
    assert.equal(topics.topicCount, 1);
    leaving.socket.subscribe("c");
    assert.equal(topics.subscriberCount("c"), 0);
    assert.equal(topics.publish("b", "still here"), 1);
    await closeAll([staying]);
  });

  test("a socket subscribed while CONNECTING gets nothing until it opens", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const socket = createPendingSocket("server", { pingInterval: 0 }, topics);
    socket.subscribe("early");
    assert.equal(topics.subscriberCount("early"), 1);
    assert.equal(topics.publish("early", "too soon"), 0);
    const conn = new FakeConn();
    const done = attachConnection(socket, conn, new Uint8Array(0), {
      protocol: "",
      extensions: "",
    });
    assert.equal(topics.publish("early", "now"), 1);
    await socket.drained();
    assert.deepEqual(
      conn.frames().map((frame) => decoder.decode(frame.payload)),
      ["now"],
    );
    conn.end();
    await done;
  });

  test("published and direct sends keep call order, also behind a Blob", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const subscriber = openSubscriber(topics);
    const { socket } = subscriber;
    socket.subscribe("t");
    socket.send("1 direct");
    topics.publish("t", "2 published");
    socket.send(new Blob(["3 blob"]));
    topics.publish("t", "4 published behind the blob");
    socket.send("5 direct");
    await socket.drained();
    const payloads = subscriber.conn.frames()
      .map((frame) => decoder.decode(frame.payload));
    assert.deepEqual(payloads, [
      "1 direct",
      "2 published",
      "3 blob",
      "4 published behind the blob",
      "5 direct",
    ]);
    await closeAll([subscriber]);
  });

  test("the message is encoded once: every subscriber writes the same bytes", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const subscribers = Array.from({ length: 3 }, () => openSubscriber(topics));
    for (const { socket } of subscribers) socket.subscribe("t");
    topics.publish("t", "x".repeat(1000));
    await Promise.all(subscribers.map(({ socket }) => socket.drained()));
    const [first, ...rest] = subscribers.map(({ conn }) => conn.given);
    assert.equal(first.length, 1);
    for (const given of rest) {
      assert.equal(given.length, 1);
      assert.ok(given[0] === first[0], "the same Uint8Array instance");
    }
    assert.equal(first[0].length, 4 + 1000); // 16-bit length header
    await closeAll(subscribers);
  });

  test("a slow subscriber past maxQueuedBytes fails with 1008; the others get everything", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const slow = openSubscriber(topics, { maxQueuedBytes: 3000 });
    const fast = [1, 2].map(() => openSubscriber(topics));
    for (const { socket } of [slow, ...fast]) socket.subscribe("feed");
    slow.conn.hold(); // stops reading
    const message = "m".repeat(1024);
    const counts: number[] = [];
    for (let index = 0; index < 4; index++) {
      counts.push(topics.publish("feed", message));
      await Promise.resolve(); // let the first write start
    }
    // 1028 bytes in flight, then 1028 and 1028 queued: the fourth publish
    // finds 2056 + 1028 > 3000 waiting.
    assert.deepEqual(counts, [3, 3, 3, 2]);
    assert.equal(slow.socket.readyState, slow.socket.CLOSING);
    slow.conn.release();
    await slow.done;
    assert.deepEqual(slow.log, [
      "open",
      "error",
      "close:1008:send queue full:unclean",
    ]);
    const slowFrames = slow.conn.frames();
    assert.equal(slowFrames.at(-1)?.opcode, Opcode.Close);
    assert.equal(closeCodeOf(slowFrames.at(-1)!), 1008);
    assert.equal(topics.subscriberCount("feed"), 2);
    await Promise.all(fast.map(({ socket }) => socket.drained()));
    for (const subscriber of fast) {
      assert.equal(texts(subscriber).length, 4);
      assert.equal(subscriber.socket.readyState, subscriber.socket.OPEN);
    }
    await closeAll(fast);
  });

  test("rejects a Blob and a topic that is not a string; sockets without a server cannot publish", async () => {
    const topics = new TopicRegistry(queueEncodedFrame);
    const subscriber = openSubscriber(topics);
    subscriber.socket.subscribe("t");
    assert.throws(
      () => topics.publish("t", new Blob(["x"]) as never),
      TypeError,
    );
    assert.throws(
      () => topics.subscribe(subscriber.socket, 42 as never),
      TypeError,
    );
    const lonely = createPendingSocket("server", { pingInterval: 0 });
    assert.throws(() => lonely.subscribe("t"), TypeError);
    assert.throws(() => lonely.publish("t", "x"), TypeError);
    assert.equal(lonely.isSubscribed("t"), false);
    assert.deepEqual(lonely.subscriptions, []);
    await closeAll([subscriber]);
  });
});
