/**
 * `connect()` of the `./node` entry (node:net and node:tls) in every
 * runtime: `deno test`, `bun test` and `node --test` run this file. Its
 * peers are our own `serveNodeNet()` and the npm `ws` server, over TCP and
 * TLS.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import {
  connect,
  HandshakeError,
  serveNodeNet,
  upgradeWebSocket,
} from "../../node.ts";
import { TEST_CERT, TEST_KEY } from "../support/test_cert.ts";
import { nextEvent } from "../support/websocket.ts";

/** The part of a `ws` server-side socket used here (ws ships no types). */
interface WsSocket {
  on(
    event: "message",
    listener: (data: Uint8Array, isBinary: boolean) => void,
  ): void;
  send(data: Uint8Array, options: { binary: boolean }): void;
}

/** Starts an npm `ws` echo server on a plain or TLS HTTP server. */
async function startWsServer(
  secure: boolean,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = secure
    ? https.createServer({ cert: TEST_CERT, key: TEST_KEY })
    : http.createServer();
  const wss = new WebSocketServer({
    server,
    handleProtocols: (offered: Set<string>) =>
      offered.has("chat") ? "chat" : false,
  });
  wss.on("connection", (ws: WsSocket) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `${secure ? "wss" : "ws"}://localhost:${port}/echo`,
    async close() {
      for (const client of wss.clients as Set<{ terminate(): void }>) {
        client.terminate();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("connect() from ./node", () => {
  test("talks to our serveNodeNet(): text, binary, subprotocol, close reason", async () => {
    const server = await serveNodeNet(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (request) => {
        const { socket, response } = upgradeWebSocket(request, {
          protocol: "chat",
        });
        socket.onmessage = (event) => {
          if (event.data === "bye") socket.close(4001, "done here");
          else socket.send(event.data);
        };
        return response;
      },
    );
    try {
      const socket = await connect(
        `ws://127.0.0.1:${server.addr.port}/`,
        { protocols: ["chat"] },
      );
      socket.binaryType = "arraybuffer";
      assert.equal(socket.protocol, "chat");
      socket.send("hello");
      assert.equal(
        (await nextEvent<MessageEvent>(socket, "message")).data,
        "hello",
      );
      socket.send(new Uint8Array([1, 2, 3]));
      const binary = (await nextEvent<MessageEvent>(socket, "message")).data;
      assert.deepEqual(new Uint8Array(binary), new Uint8Array([1, 2, 3]));
      socket.send("bye");
      const closed = await nextEvent<CloseEvent>(socket, "close");
      assert.equal(closed.code, 4001);
      assert.equal(closed.reason, "done here");
      assert.equal(closed.wasClean, true);
    } finally {
      await server.shutdown();
    }
  });

  for (const secure of [false, true]) {
    test(`talks to the npm ws server over ${secure ? "wss" : "ws"}`, async () => {
      const peer = await startWsServer(secure);
      try {
        const socket = await connect(peer.url, {
          protocols: ["chat"],
          caCerts: secure ? [TEST_CERT] : undefined,
        });
        socket.binaryType = "arraybuffer";
        assert.equal(socket.protocol, "chat");
        assert.equal(socket.url, peer.url);
        const text = "x".repeat(70_000);
        socket.send(text);
        assert.equal(
          (await nextEvent<MessageEvent>(socket, "message")).data,
          text,
        );
        socket.send(new Uint8Array(300).fill(7));
        const binary = new Uint8Array(
          (await nextEvent<MessageEvent>(socket, "message")).data,
        );
        assert.equal(binary.length, 300);
        assert.equal(binary[299], 7);
        const closing = nextEvent<CloseEvent>(socket, "close");
        socket.close(1000, "thanks");
        const closed = await closing;
        assert.equal(closed.code, 1000);
        assert.equal(closed.wasClean, true);
      } finally {
        await peer.close();
      }
    });
  }

  test("a certificate nobody vouches for fails the TLS handshake", async () => {
    const peer = await startWsServer(true);
    try {
      await assert.rejects(connect(peer.url), (error: unknown) => {
        assert.ok(!(error instanceof HandshakeError), String(error));
        return true;
      });
    } finally {
      await peer.close();
    }
  });

  test("a refusal is a HandshakeError with the server's status", async () => {
    const server = http.createServer((_, response) => {
      response.writeHead(403, { "content-type": "text/plain" });
      response.end("no");
    });
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve())
    );
    const { port } = server.address() as AddressInfo;
    try {
      await assert.rejects(
        connect(`ws://127.0.0.1:${port}/`),
        (error: unknown) => {
          assert.ok(error instanceof HandshakeError, String(error));
          assert.equal(error.status, 403);
          return true;
        },
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test("an aborted signal stops the dial with its reason", async () => {
    const controller = new AbortController();
    controller.abort(new Error("changed my mind"));
    await assert.rejects(
      connect("ws://127.0.0.1:9/", { signal: controller.signal }),
      /changed my mind/,
    );
  });
});
