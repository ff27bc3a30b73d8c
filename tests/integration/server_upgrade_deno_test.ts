// Deno only: WebSocket upgrades and TLS through serve() on real sockets.
// Bun's run excludes tests/*_deno_test.ts.
import { TEST_CERT, TEST_KEY } from "../support/test_cert.ts";
import assert from "node:assert/strict";
import { type ServeHandler, upgradeWebSocket } from "../../mod.ts";
import {
  capturingErrors,
  clientFrame,
  describe,
  echoInfo,
  encoder,
  RawClient,
  startServer,
  test,
  withServer,
} from "../support/server_deno.ts";
import { withDeadline } from "../interop/peers/bounded.ts";

const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; // RFC 6455 section 1.3

function upgradeHead(extra = ""): string {
  return "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

describe("serve: WebSocket upgrades", () => {
  const echo: ServeHandler = (request) => {
    const { socket, response } = upgradeWebSocket(request, {
      protocol: "chat",
    });
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  };

  test("101 with the accept key; bytes sent with the head reach the socket", async () => {
    await withServer(echo, {}, async (_server, connect) => {
      const client = await connect();
      const head = encoder.encode(upgradeHead());
      const frame = clientFrame(0x1, encoder.encode("early"));
      const both = new Uint8Array(head.length + frame.length);
      both.set(head);
      both.set(frame, head.length);
      await client.send(both); // the frame arrives in the same segment as the head
      const response = await client.readResponse(true);
      assert.equal(response.status, 101);
      assert.equal(response.headers.get("sec-websocket-accept"), RFC_ACCEPT);
      assert.equal(response.headers.get("upgrade"), "websocket");
      assert.equal(response.headers.has("sec-websocket-protocol"), false);
      assert.deepEqual(await client.readFrame(), {
        opcode: 0x1,
        payload: "early",
      });
    });
  });

  test("the subprotocol is selected only when offered", async () => {
    await withServer(echo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(
        upgradeHead("Sec-WebSocket-Protocol: superchat, chat\r\n"),
      );
      const response = await client.readResponse(true);
      assert.equal(response.status, 101);
      assert.equal(response.headers.get("sec-websocket-protocol"), "chat");
      await client.send(clientFrame(0x1, encoder.encode("after")));
      assert.deepEqual(await client.readFrame(), {
        opcode: 0x1,
        payload: "after",
      });
    });
  });

  test("shutdown() closes open WebSockets with 1001 and waits for them", async () => {
    let closed: Promise<number> | undefined;
    const handler: ServeHandler = (request) => {
      const { socket, response } = upgradeWebSocket(request);
      closed = new Promise((resolve) =>
        socket.onclose = (event) => resolve((event as CloseEvent).code)
      );
      return response;
    };
    await withServer(handler, {}, async (server, connect) => {
      const client = await connect();
      await client.send(upgradeHead());
      assert.equal((await client.readResponse(true)).status, 101);
      const shutdown = server.shutdown();
      const close = await client.readFrame();
      assert.equal(close.opcode, 0x8);
      assert.equal(close.code, 1001);
      await client.send(clientFrame(0x8, new Uint8Array([0x03, 0xe9])));
      await shutdown;
      assert.equal(await closed, 1001);
      assert.equal(await client.readToEnd(), "");
    });
  });

  test("shutdownTimeout also cuts an upgraded socket whose peer never answers the 1001", async () => {
    const handler: ServeHandler = (request) => {
      // No close timer of its own: only shutdownTimeout can end it.
      const { socket, response } = upgradeWebSocket(request, {
        closeTimeout: 0,
      });
      socket.onmessage = () => {};
      return response;
    };
    await withServer(
      handler,
      { shutdownTimeout: 100 },
      async (server, connect) => {
        const client = await connect();
        await client.send(upgradeHead());
        assert.equal((await client.readResponse(true)).status, 101);
        const shutdown = server.shutdown();
        assert.equal((await client.readFrame()).code, 1001);
        // The client stays silent; the server must cut the connection.
        await withDeadline(shutdown, 20_000, "shutdown with a silent peer");
        assert.equal(await client.readToEnd(), "");
      },
    );
  });

  test("a handler that upgrades but returns another response fails the socket", async () => {
    let closeCode: Promise<number> | undefined;
    const handler: ServeHandler = (request) => {
      const { socket } = upgradeWebSocket(request);
      closeCode = new Promise((resolve) =>
        socket.onclose = (event) => resolve((event as CloseEvent).code)
      );
      socket.onerror = () => {};
      return new Response("changed my mind", { status: 403 });
    };
    await withServer(handler, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(upgradeHead());
      const response = await client.readResponse();
      assert.equal(response.status, 403);
      assert.equal(response.body, "changed my mind");
      assert.equal(await closeCode, 1006);
    });
  });

  test("a handler that throws after upgrading gives 500 and fails the socket", async () => {
    let closeCode: Promise<number> | undefined;
    const handler: ServeHandler = (request) => {
      const { socket } = upgradeWebSocket(request);
      closeCode = new Promise((resolve) =>
        socket.onclose = (event) => resolve((event as CloseEvent).code)
      );
      socket.onerror = () => {};
      throw new Error("after upgrade");
    };
    await withServer(handler, {}, async (_server, connect) => {
      const logged = await capturingErrors(async () => {
        const client = await connect();
        await client.send(upgradeHead());
        assert.equal((await client.readResponse()).status, 500);
        assert.equal(await closeCode, 1006);
      });
      assert.equal(logged.length, 1);
    });
  });
});

// ---------------------------------------------------------------- TLS

describe("serve: TLS", () => {
  test("cert and key make an https server", async () => {
    const server = startServer(echoInfo, { cert: TEST_CERT, key: TEST_KEY });
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: server.addr.port,
      caCerts: [TEST_CERT],
    });
    const client = new RawClient(conn);
    try {
      await client.send("GET /secure HTTP/1.1\r\nHost: localhost\r\n\r\n");
      const response = await client.readResponse();
      assert.equal(response.body, "GET /secure ");
      assert.equal(response.headers.get("x-url"), "https://localhost/secure");
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  test("cert without key is refused", () => {
    assert.throws(() => startServer(echoInfo, { cert: TEST_CERT }), TypeError);
  });
});
