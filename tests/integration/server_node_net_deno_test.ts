// Deno only: serveNodeNet(), the server on node:net sockets, through the
// same raw client as the serve() tests, plus a real WebSocket client.
import assert from "node:assert/strict";
import {
  type ServeHandler,
  type ServeOptions,
  type Server,
  upgradeWebSocket,
} from "../../mod.ts";
import { serveNodeNet } from "../../node.ts";
import {
  clientFrame,
  describe,
  encoder,
  type RawClient,
  test,
  withServer,
} from "../support/server_deno.ts";

const UPGRADE_HEAD =
  "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

function withNodeNetServer(
  handler: ServeHandler,
  options: ServeOptions,
  body: (server: Server, connect: () => Promise<RawClient>) => Promise<void>,
): Promise<void> {
  return withServer(handler, options, body, (handler, options) =>
    serveNodeNet(
      { port: 0, hostname: "127.0.0.1", onListen() {}, ...options },
      handler,
    ));
}

const echo: ServeHandler = (request) => {
  if (request.headers.get("upgrade") !== "websocket") {
    return new Response(`plain ${new URL(request.url).pathname}`);
  }
  const { socket, response } = upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => socket.send(event.data);
  return response;
};

describe("serveNodeNet", () => {
  test("listens on the port it reports and calls onListen with it", async () => {
    let reported: Deno.NetAddr | undefined;
    await withNodeNetServer(echo, {
      onListen: (addr) => reported = addr,
    }, (server) => {
      assert.ok(server.addr.port > 0);
      assert.deepEqual(reported, server.addr);
      assert.equal(server.addr.hostname, "127.0.0.1");
      return Promise.resolve();
    });
  });

  test("plain HTTP: two requests on one keep-alive connection", async () => {
    await withNodeNetServer(echo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send("GET /one HTTP/1.1\r\nHost: a\r\n\r\n");
      assert.equal((await client.readResponse()).body, "plain /one");
      await client.send("GET /two HTTP/1.1\r\nHost: a\r\n\r\n");
      assert.equal((await client.readResponse()).body, "plain /two");
    });
  });

  test("a client that ends its side after the request still gets the response", async () => {
    const slow: ServeHandler = async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 0)); // a turn later
      return new Response(`late ${new URL(request.url).pathname}`);
    };
    await withNodeNetServer(slow, {}, async (_server, connect) => {
      const client = await connect();
      await client.send("GET /half HTTP/1.1\r\nHost: a\r\n\r\n");
      await client.conn.closeWrite();
      assert.equal((await client.readResponse()).body, "late /half");
    });
  });

  test("upgrade, then frames both ways, bytes sent with the head included", async () => {
    await withNodeNetServer(echo, {}, async (_server, connect) => {
      const client = await connect();
      const head = encoder.encode(UPGRADE_HEAD);
      const early = clientFrame(0x1, encoder.encode("early"));
      const both = new Uint8Array(head.length + early.length);
      both.set(head);
      both.set(early, head.length);
      await client.send(both);
      assert.equal((await client.readResponse(true)).status, 101);
      assert.deepEqual(await client.readFrame(), {
        opcode: 0x1,
        payload: "early",
      });
      await client.send(clientFrame(0x1, encoder.encode("later")));
      assert.deepEqual(await client.readFrame(), {
        opcode: 0x1,
        payload: "later",
      });
    });
  });

  test("shutdown() closes open WebSockets with 1001", async () => {
    await withNodeNetServer(echo, {}, async (server, connect) => {
      const client = await connect();
      await client.send(UPGRADE_HEAD);
      assert.equal((await client.readResponse(true)).status, 101);
      const shutdown = server.shutdown();
      const close = await client.readFrame();
      assert.equal(close.opcode, 0x8);
      assert.equal(close.code, 1001);
      await client.send(clientFrame(0x8, new Uint8Array([0x03, 0xe9])));
      await shutdown;
      assert.equal(await client.readToEnd(), "");
    });
  });

  test("past maxConnections a new connection gets 503", async () => {
    await withNodeNetServer(
      echo,
      { maxConnections: 1 },
      async (_s, connect) => {
        const first = await connect();
        await first.send(UPGRADE_HEAD);
        assert.equal((await first.readResponse(true)).status, 101);
        const second = await connect();
        const refusal = await second.readResponse();
        assert.equal(refusal.status, 503);
        assert.equal(refusal.headers.get("retry-after"), "5");
      },
    );
  });

  test("a 1 MiB binary message from a real client comes back intact", async () => {
    await withNodeNetServer(echo, {}, async (server) => {
      const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
      socket.binaryType = "arraybuffer";
      const payload = new Uint8Array(1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
      const echoed = new Promise<ArrayBuffer>((resolve, reject) => {
        socket.onmessage = (event) => resolve(event.data);
        socket.onerror = () => reject(new Error("client error"));
      });
      await new Promise((resolve) => socket.onopen = resolve);
      socket.send(payload);
      assert.deepEqual(new Uint8Array(await echoed), payload);
      const closed = new Promise((resolve) => socket.onclose = resolve);
      socket.close(1000);
      await closed;
    });
  });

  test("TLS is refused: node:net serves plain TCP only", async () => {
    await assert.rejects(
      serveNodeNet({ port: 0, cert: "x", key: "y", onListen() {} }, echo),
      TypeError,
    );
  });
});
