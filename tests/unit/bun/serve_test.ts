/**
 * serveBun() on Bun's own TCP: `bun test` runs these; the other runtimes
 * skip them (they have no `Bun.listen`). Bun's built-in WebSocket client and
 * this library's node:net client talk to it.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { serveBun, upgradeWebSocket } from "../../../bun.ts";
import { connect } from "../../../node.ts";
import { nextEvent } from "../../support/websocket.ts";

const skip = "Bun" in globalThis ? false : "serveBun runs in Bun only";

describe("serveBun", { skip }, () => {
  test("echoes text and binary, a 4 MiB message included, and shutdown() closes with 1001", async () => {
    const server = serveBun(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (request) => {
        const { socket, response } = upgradeWebSocket(request);
        socket.onmessage = (event) => socket.send(event.data);
        return response;
      },
    );
    try {
      const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
      client.binaryType = "arraybuffer";
      await nextEvent(client, "open");
      client.send("hello");
      assert.equal(
        (await nextEvent<MessageEvent>(client, "message")).data,
        "hello",
      );
      const big = new Uint8Array(4 << 20).fill(7);
      client.send(big);
      const echoed = new Uint8Array(
        (await nextEvent<MessageEvent>(client, "message")).data,
      );
      assert.equal(echoed.length, big.length);
      assert.equal(echoed[echoed.length - 1], 7);
      const ours = await connect(`ws://127.0.0.1:${server.addr.port}/`);
      ours.send("from node:net");
      assert.equal(
        (await nextEvent<MessageEvent>(ours, "message")).data,
        "from node:net",
      );
      const closed = nextEvent<CloseEvent>(client, "close");
      const oursClosed = nextEvent<CloseEvent>(ours, "close");
      await server.shutdown();
      assert.equal((await closed).code, 1001);
      assert.equal((await oursClosed).code, 1001);
    } finally {
      await server.shutdown();
    }
  });

  test("plain HTTP answers and the object form", async () => {
    const server = serveBun({
      port: 0,
      hostname: "127.0.0.1",
      onListen() {},
      handler: () => new Response("plain"),
    });
    try {
      const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      assert.equal(await answer.text(), "plain");
    } finally {
      await server.shutdown();
    }
  });
});
