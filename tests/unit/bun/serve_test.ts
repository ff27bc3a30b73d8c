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
import { createConnection } from "node:net";
import { maskedFrame } from "../../support/bytes.ts";
import { FrameDecoder } from "../../../frame/decoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { concatBytes } from "../../../frame/bytes.ts";

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

  test("many small replies to a peer that reads only once it sent them all arrive whole and in order", async () => {
    // Each message is answered 16 times: the replies outgrow the kernel's
    // buffers while the peer does not read, so Bun takes part of a burst
    // and the rest waits for the socket's drain.
    const copies = 16;
    const server = serveBun(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (request) => {
        const { socket, response } = upgradeWebSocket(request);
        socket.binaryType = "arraybuffer";
        socket.onmessage = (event) => {
          for (let copy = 0; copy < copies; copy++) socket.send(event.data);
        };
        return response;
      },
    );
    const count = 5_000;
    const size = 200;
    const peer = createConnection({
      host: "127.0.0.1",
      port: server.addr.port,
    });
    const decoder = new FrameDecoder({ expectMasked: false });
    let received = 0;
    let head = "";
    const upgraded = Promise.withResolvers<string>();
    const done = Promise.withResolvers<void>();
    peer.on("error", (error) => done.reject(error));
    peer.on("data", (chunk: Uint8Array) => {
      let bytes = new Uint8Array(chunk);
      if (head.indexOf("\r\n\r\n") < 0) {
        head += new TextDecoder("latin1").decode(bytes);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        // Read nothing more until every message was sent.
        peer.pause();
        bytes = bytes.subarray(bytes.length - (head.length - end - 4));
        upgraded.resolve(head.slice(0, end));
      }
      decoder.push(bytes);
      try {
        for (let frame = decoder.next(); frame; frame = decoder.next()) {
          assert.equal(frame.opcode, Opcode.Binary);
          assert.equal(frame.payload.length, size);
          const view = new DataView(
            frame.payload.buffer,
            frame.payload.byteOffset,
          );
          const index = Math.floor(received / copies);
          assert.equal(view.getUint32(0), index, "in order");
          assert.equal(frame.payload[size - 1], index & 0xff);
          received++;
        }
      } catch (error) {
        done.reject(error);
      }
      if (received === count * copies) done.resolve();
    });
    try {
      peer.write(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      );
      assert.match(await upgraded.promise, /^HTTP\/1\.1 101/);
      const frames: Uint8Array[] = [];
      for (let index = 0; index < count; index++) {
        const payload = new Uint8Array(size).fill(index & 0xff);
        new DataView(payload.buffer).setUint32(0, index);
        frames.push(maskedFrame(Opcode.Binary, payload));
      }
      const all = concatBytes(frames);
      await new Promise<void>((resolve, reject) =>
        peer.write(all, (error) => error ? reject(error) : resolve())
      );
      peer.resume();
      await done.promise;
      assert.equal(received, count * copies);
    } finally {
      peer.destroy();
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
