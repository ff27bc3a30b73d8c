// permessage-deflate (RFC 7692) in the socket, sending: the threshold and
// send(data, { compress }), context takeover, one FIFO with plain messages,
// a Blob and the close, pre-encoded frames, a client's masked compressed
// frames, and sends from onmessage right before the peer's close.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { queueEncodedFrame } from "../../../socket/websocket.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { encodeClosePayload } from "../../../frame/close_payload.ts";
import { deflateMessage, inflateMessage } from "../../../deflate/payload.ts";
import { InflateWindow } from "../../../deflate/inflate.ts";
import { closeFrame, decoder, text } from "../../support/websocket.ts";
import {
  bytesOf,
  chatLog,
  compressedFrame,
  CONTEXT_TAKEOVER,
  dataFrames,
  noise,
  openDeflateSocket,
  syncFlushedStoredBlock,
  writtenFrames,
} from "../../support/deflate_socket.ts";

describe("permessage-deflate: sending", () => {
  test("messages at or above the threshold go out compressed, smaller ones plain", async () => {
    const { socket, conn, done } = openDeflateSocket(100);
    const atThreshold = "x".repeat(100);
    const below = "y".repeat(99);
    const binary = new Uint8Array(100).fill(7);
    const multiByte = "é".repeat(50); // 50 characters, 100 bytes of UTF-8
    socket.send(atThreshold);
    socket.send(below);
    socket.send(binary);
    socket.send(new Uint8Array(99));
    socket.send(multiByte);
    await conn.until(() => dataFrames(conn).length === 5);
    const frames = dataFrames(conn);
    assert.deepEqual(frames.map((f) => [f.opcode, f.rsv1]), [
      [Opcode.Text, true],
      [Opcode.Text, false],
      [Opcode.Binary, true],
      [Opcode.Binary, false],
      [Opcode.Text, true],
    ]);
    assert.equal(
      decoder.decode(await inflateMessage(frames[0].payload, 1000)),
      atThreshold,
    );
    assert.ok(frames[0].payload.length < 100, "it is smaller");
    assert.equal(decoder.decode(frames[1].payload), below);
    assert.deepEqual(await inflateMessage(frames[2].payload, 1000), binary);
    assert.equal(
      decoder.decode(await inflateMessage(frames[4].payload, 1000)),
      multiByte,
    );
    conn.push(closeFrame(1000));
    await done;
  });

  test("send(data, { compress }) decides for one message", async () => {
    const { socket, conn, done } = openDeflateSocket(1000);
    socket.send("short", { compress: true });
    socket.send(chatLog(4096), { compress: false });
    socket.send(new Blob(["blob"]), { compress: true });
    socket.send(noise(2000));
    await conn.until(() => dataFrames(conn).length === 4);
    const frames = dataFrames(conn);
    assert.deepEqual(frames.map((f) => f.rsv1), [true, false, true, true]);
    assert.equal(
      decoder.decode(inflateMessage(frames[0].payload, 99)),
      "short",
    );
    assert.equal(decoder.decode(inflateMessage(frames[2].payload, 99)), "blob");
    // Random bytes grow a little and still go compressed: under context
    // takeover the peer's window must see every message compressed.
    assert.deepEqual(inflateMessage(frames[3].payload, 9999), noise(2000));
    conn.push(closeFrame(1000));
    await done;
  });

  test("with context takeover a message refers back to the ones before it", async () => {
    const { socket, conn, done } = openDeflateSocket(0, {}, "server", {
      ...CONTEXT_TAKEOVER,
    });
    const message = JSON.stringify({ type: "message", text: "hello, all" });
    for (let i = 0; i < 20; i++) socket.send(message);
    await conn.until(() => dataFrames(conn).length === 20);
    const frames = dataFrames(conn);
    const window = new InflateWindow(15);
    for (const frame of frames) {
      assert.equal(frame.rsv1, true);
      assert.equal(
        decoder.decode(inflateMessage(frame.payload, 999, window)),
        message,
      );
    }
    assert.ok(
      frames[19].payload.length * 3 < frames[0].payload.length,
      `${frames[19].payload.length} B after ${frames[0].payload.length} B`,
    );
    // Read on their own, the later messages refer to what is missing.
    assert.throws(() => inflateMessage(frames[19].payload, 999));
    conn.push(closeFrame(1000));
    await done;
  });

  test("threshold 0 compresses even a short message", async () => {
    const { socket, conn, done } = openDeflateSocket(0);
    socket.send("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    await conn.until(() => dataFrames(conn).length === 1);
    assert.equal(dataFrames(conn)[0].rsv1, true);
    conn.push(closeFrame(1000));
    await done;
  });

  test("one FIFO: plain and compressed messages and the close wait behind a Blob", async () => {
    const { socket, conn, done } = openDeflateSocket(1000);
    const big = chatLog(100_000);
    socket.send(new Blob([big]));
    socket.send("small");
    socket.send(new Blob([chatLog(2000)]));
    const view = new Uint8Array([1, 2, 3]);
    socket.send(view);
    view[0] = 9; // send captured the bytes
    assert.ok(socket.bufferedAmount >= 100_000 + 5 + 2000 + 3);
    socket.close(1000, "done");
    socket.send("dropped");
    await conn.until(() =>
      writtenFrames(conn).some((frame) => frame.opcode === Opcode.Close)
    );
    const frames = writtenFrames(conn);
    assert.deepEqual(frames.map((f) => [f.opcode, f.rsv1]), [
      [Opcode.Binary, true],
      [Opcode.Text, false],
      [Opcode.Binary, true],
      [Opcode.Binary, false],
      [Opcode.Close, false],
    ]);
    assert.equal(
      decoder.decode(await inflateMessage(frames[0].payload, 1 << 20)),
      big,
    );
    assert.equal(decoder.decode(frames[1].payload), "small");
    assert.equal(
      decoder.decode(await inflateMessage(frames[2].payload, 1 << 20)),
      chatLog(2000),
    );
    assert.deepEqual(frames[3].payload, new Uint8Array([1, 2, 3]));
    conn.push(closeFrame(1000));
    await done;
  });

  test("pub/sub frames (encoded once) stay uncompressed and keep their place", async () => {
    const { socket, conn, done } = openDeflateSocket(10);
    socket.send(chatLog(1000));
    const published = encodeFrame(Opcode.Text, bytesOf(chatLog(500)));
    assert.equal(queueEncodedFrame(socket, published), true);
    socket.send("tiny");
    await conn.until(() => dataFrames(conn).length === 3);
    const frames = dataFrames(conn);
    assert.deepEqual(frames.map((f) => f.rsv1), [true, false, false]);
    assert.equal(decoder.decode(frames[1].payload), chatLog(500));
    assert.equal(decoder.decode(frames[2].payload), "tiny");
    conn.push(closeFrame(1000));
    await done;
  });

  test("a client masks its compressed frames and inflates the server's", async () => {
    const { socket, conn, log, done } = openDeflateSocket(0, {}, "client");
    const message = chatLog(10_000);
    socket.send(message);
    await conn.until(() => dataFrames(conn, "client").length === 1);
    const [frame] = dataFrames(conn, "client");
    assert.equal(frame.masked, true);
    assert.equal(frame.rsv1, true);
    assert.equal(
      decoder.decode(await inflateMessage(frame.payload, 1 << 20)),
      message,
    );
    conn.push(
      encodeFrame(Opcode.Text, await deflateMessage(bytesOf(message)), {
        rsv1: true,
      }),
    );
    await log.waitFor(2);
    assert.deepEqual(log.entries, ["open", "text:10000 chars"]);
    socket.close(1000);
    conn.push(encodeFrame(Opcode.Close, encodeClosePayload(1000)));
    conn.end();
    await done;
  });
});

describe("permessage-deflate: the peer's close right behind a message", () => {
  for (const compressed of [false, true]) {
    test(
      `send() and ping() in onmessage do not throw (${
        compressed ? "compressed" : "plain"
      } message)`,
      async () => {
        const { socket, conn, log, done } = openDeflateSocket(0);
        const thrown: unknown[] = [];
        socket.addEventListener("message", (event) => {
          try {
            socket.send(event.data);
            socket.send(chatLog(5000)); // would be compressed
            socket.ping("late");
          } catch (error) {
            thrown.push(error);
          }
        });
        const message = compressed
          ? compressedFrame(Opcode.Text, syncFlushedStoredBlock("last words"))
          : text("last words");
        // What `ws.send(x); ws.close()` in npm ws or Bun puts in one write.
        conn.push(new Uint8Array([...message, ...closeFrame(1000)]));
        await done;
        assert.deepEqual(thrown, []);
        assert.deepEqual(log.entries, [
          "open",
          "text:last words",
          "close:1000:clean",
        ]);
        // Everything the handler sent was framed before the close frame was
        // read (compression is synchronous), so it all goes out first, in
        // order; nothing follows the close echo, and nothing was dropped.
        assert.deepEqual(writtenFrames(conn).map((f) => f.opcode), [
          Opcode.Text,
          Opcode.Text,
          Opcode.Ping,
          Opcode.Close,
        ]);
        assert.equal(socket.bufferedAmount, 0);
      },
    );
  }
});
