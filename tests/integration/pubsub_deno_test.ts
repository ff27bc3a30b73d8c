// Deno only: pub/sub through serve() and upgradeWebSocket() on real sockets,
// with Deno's own WebSocket as the client. Checks that a socket created by
// upgradeWebSocket reaches its server's topics, and only its server's.
import assert from "node:assert/strict";
import { type Server, upgradeWebSocket } from "../../mod.ts";
import type { WebSocketConnection } from "../../socket/websocket.ts";
import { withDeadline } from "../interop/peers/bounded.ts";
import { describe, startServer, test } from "../support/server_deno.ts";
import { TestClient } from "../support/chat/ws_client.ts";

/** A server whose sockets join `topic` on upgrade and publish what they
 * receive; `opened(n)` waits until n server-side sockets are open. */
function startPubSubServer(topic: string) {
  const open = new Set<WebSocketConnection>();
  let changed = Promise.withResolvers<void>();
  const notify = () => {
    changed.resolve();
    changed = Promise.withResolvers<void>();
  };
  const server = startServer((request) => {
    const { socket, response } = upgradeWebSocket(request);
    socket.subscribe(topic); // still CONNECTING here
    socket.onopen = () => {
      open.add(socket);
      notify();
    };
    socket.onclose = () => {
      open.delete(socket);
      notify();
    };
    socket.onmessage = (event) => socket.publish(topic, event.data);
    return response;
  });
  const until = async (condition: () => boolean) => {
    while (!condition()) {
      await withDeadline(changed.promise, 5_000, "waiting for the server");
    }
  };
  return { server, open, until };
}

function url(server: Server): string {
  return `ws://127.0.0.1:${server.addr.port}/`;
}

describe("pub/sub over serve()", () => {
  test("server.publish reaches every client; socket.publish all but the sender", async () => {
    const { server, open, until } = startPubSubServer("room");
    const clients: TestClient[] = [];
    try {
      for (let index = 0; index < 3; index++) {
        clients.push(await TestClient.open(url(server)));
      }
      await until(() => open.size === 3);
      assert.equal(server.subscriberCount("room"), 3);
      assert.equal(server.publish("room", "to everyone"), 3);
      for (const client of clients) {
        assert.equal(await client.next(), "to everyone");
      }
      const [alice, bob, carol] = clients;
      alice.send("from alice");
      assert.equal(await bob.next(), "from alice");
      assert.equal(await carol.next(), "from alice");
      bob.send(new Uint8Array([1, 2, 3]));
      assert.deepEqual([...new Uint8Array(await alice.next() as ArrayBuffer)], [
        1,
        2,
        3,
      ]);
      assert.deepEqual(
        [...new Uint8Array(await carol.next() as ArrayBuffer)],
        [1, 2, 3],
      );
      // Nothing else reached the senders: the next thing each sees is this.
      server.publish("room", "marker");
      assert.equal(await alice.next(), "marker");
      assert.equal(await bob.next(), "marker");
      assert.equal(await carol.next(), "marker");
    } finally {
      for (const client of clients) await client.close();
      await server.shutdown();
    }
  });

  test("a closed client's socket leaves its topics", async () => {
    const { server, open, until } = startPubSubServer("room");
    const staying = await TestClient.open(url(server));
    try {
      const leaving = await TestClient.open(url(server));
      await until(() => open.size === 2);
      assert.equal(server.subscriberCount("room"), 2);
      await leaving.close();
      await until(() => open.size === 1);
      assert.equal(server.subscriberCount("room"), 1);
      assert.equal(server.publish("room", "one left"), 1);
      assert.equal(await staying.next(), "one left");
    } finally {
      await staying.close();
      await server.shutdown();
    }
  });

  test("each server has its own topics", async () => {
    const first = startPubSubServer("shared-name");
    const second = startPubSubServer("shared-name");
    const clients: TestClient[] = [];
    try {
      clients.push(await TestClient.open(url(first.server)));
      clients.push(await TestClient.open(url(second.server)));
      await first.until(() => first.open.size === 1);
      await second.until(() => second.open.size === 1);
      assert.equal(first.server.publish("shared-name", "first only"), 1);
      assert.equal(second.server.publish("shared-name", "second only"), 1);
      assert.equal(await clients[0].next(), "first only");
      assert.equal(await clients[1].next(), "second only");
    } finally {
      for (const client of clients) await client.close();
      await first.server.shutdown();
      await second.server.shutdown();
    }
  });
});
