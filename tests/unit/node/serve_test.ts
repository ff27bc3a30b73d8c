/**
 * serveNodeNet() in every runtime with node:net: under `deno test` and
 * `bun test` alike, the runtime's own WebSocket client talks to our server.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { serveNodeNet, upgradeWebSocket } from "../../../node.ts";

describe("serveNodeNet in this runtime", () => {
  test("echoes text and binary, and shutdown() closes the client with 1001", async () => {
    const server = await serveNodeNet(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (request) => {
        if (request.headers.get("upgrade") !== "websocket") {
          return new Response("plain");
        }
        const { socket, response } = upgradeWebSocket(request);
        socket.binaryType = "arraybuffer";
        socket.onmessage = (event) => socket.send(event.data);
        return response;
      },
    );
    try {
      const url = `127.0.0.1:${server.addr.port}`;
      assert.equal(await (await fetch(`http://${url}/`)).text(), "plain");
      const client = new WebSocket(`ws://${url}/`);
      client.binaryType = "arraybuffer";
      const messages: unknown[] = [];
      const twoMessages = Promise.withResolvers<void>();
      client.onmessage = (event) => {
        messages.push(event.data);
        if (messages.length === 2) twoMessages.resolve();
      };
      const closed = new Promise<CloseEvent>((resolve) => {
        client.onclose = resolve;
      });
      await new Promise((resolve) => client.onopen = resolve);
      client.send("text from the client");
      client.send(new Uint8Array([1, 2, 3]));
      await twoMessages.promise;
      assert.equal(messages[0], "text from the client");
      assert.deepEqual(
        new Uint8Array(messages[1] as ArrayBuffer),
        new Uint8Array([1, 2, 3]),
      );
      await server.shutdown();
      assert.equal((await closed).code, 1001);
    } finally {
      await server.shutdown();
    }
  });

  test("large echoes carry the bytes send() was given, though the handler reuses its buffer at once", async () => {
    const server = await serveNodeNet(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (request) => {
        const { socket, response } = upgradeWebSocket(request);
        socket.binaryType = "arraybuffer";
        socket.onmessage = (event) => {
          socket.send(event.data);
          new Uint8Array(event.data as ArrayBuffer).fill(0);
        };
        return response;
      },
    );
    try {
      const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
      client.binaryType = "arraybuffer";
      const count = 16;
      const size = 256 * 1024;
      const echoes: Uint8Array[] = [];
      const all = Promise.withResolvers<void>();
      client.onmessage = (event) => {
        echoes.push(new Uint8Array(event.data as ArrayBuffer));
        if (echoes.length === count) all.resolve();
      };
      await new Promise((resolve) => client.onopen = resolve);
      for (let index = 0; index < count; index++) {
        client.send(new Uint8Array(size).fill(index + 1));
      }
      await all.promise;
      for (let index = 0; index < count; index++) {
        assert.equal(echoes[index].length, size);
        assert.equal(
          echoes[index].findIndex((byte) => byte !== index + 1),
          -1,
          `echo ${index}`,
        );
      }
      client.close();
    } finally {
      await server.shutdown();
    }
  });
});
