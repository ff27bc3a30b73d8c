// permessage-deflate (RFC 7692) in the socket, receiving: over an in-memory
// connection where the test plays the peer, compressed messages arrive
// inflated, whole or fragmented, in arrival order with everything else.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../../../frame/types.ts";
import {
  attachConnection,
  createPendingSocket,
} from "../../../socket/websocket.ts";
import { deflateMessage } from "../../../deflate/payload.ts";
import {
  closeCodeOf,
  closeFrame,
  FakeConn,
  maskedFrame,
  text,
} from "../../support/websocket.ts";
import {
  AGREED,
  bytesOf,
  chatLog,
  compressedFrame,
  EventLog,
  NO_CONTEXT_TAKEOVER,
  openDeflateSocket,
  syncFlushedStoredBlock,
} from "../../support/deflate_socket.ts";

describe("permessage-deflate: receiving", () => {
  test("compressed text arrives inflated, from our compressor and a zlib-style peer", async () => {
    const { socket, conn, log, done } = openDeflateSocket();
    assert.equal(socket.extensions, AGREED);
    const long = chatLog(50_000);
    conn.push(
      compressedFrame(Opcode.Text, await deflateMessage(bytesOf(long))),
      compressedFrame(Opcode.Text, syncFlushedStoredBlock("Hello, wörld ☃ 😀")),
      compressedFrame(Opcode.Text, await deflateMessage(new Uint8Array(0))),
    );
    await log.waitFor(4);
    assert.deepEqual(log.entries, [
      "open",
      "text:50000 chars",
      "text:Hello, wörld ☃ 😀",
      "text:",
    ]);
    conn.push(closeFrame(1000));
    await done;
  });

  test("a compressed message read with the handshake (leftover) arrives inflated", async () => {
    const socket = createPendingSocket("server", { pingInterval: 0 });
    const log = new EventLog(socket);
    const conn = new FakeConn();
    const leftover = compressedFrame(
      Opcode.Text,
      syncFlushedStoredBlock("early"),
    );
    const done = attachConnection(socket, conn, leftover, {
      protocol: "",
      extensions: AGREED,
      perMessageDeflate: { params: NO_CONTEXT_TAKEOVER, threshold: 0 },
    });
    conn.push(closeFrame(1000));
    await done;
    assert.deepEqual(log.entries, ["open", "text:early", "close:1000:clean"]);
  });

  test("compressed binary arrives inflated, with the exact bytes", async () => {
    const { socket, conn, done } = openDeflateSocket();
    const sent = new Uint8Array(70_000).map((_, i) => (i * 7) % 13);
    const received = new Promise<ArrayBuffer>((resolve) =>
      socket.addEventListener("message", (event) => resolve(event.data))
    );
    conn.push(compressedFrame(Opcode.Binary, await deflateMessage(sent)));
    assert.deepEqual(new Uint8Array(await received), sent);
    conn.push(closeFrame(1000));
    await done;
  });

  test("a fragmented compressed message, RSV1 on the first frame only, with a ping between", async () => {
    const { conn, log, done } = openDeflateSocket();
    const message = chatLog(30_000);
    const payload = await deflateMessage(bytesOf(message));
    const third = Math.floor(payload.length / 3);
    conn.push(
      compressedFrame(Opcode.Text, payload.subarray(0, third), { fin: false }),
      maskedFrame(Opcode.Ping, "between"),
      compressedFrame(Opcode.Continuation, payload.subarray(third, 2 * third), {
        fin: false,
        rsv1: false,
      }),
      compressedFrame(Opcode.Continuation, payload.subarray(2 * third), {
        rsv1: false,
      }),
    );
    await log.waitFor(3);
    // The ping came before the message was complete.
    assert.deepEqual(log.entries, ["open", "ping:between", "text:30000 chars"]);
    conn.push(closeFrame(1000));
    await done;
  });

  test("events keep arrival order behind a message being inflated, the close last", async () => {
    const { conn, log, done } = openDeflateSocket();
    const big = await deflateMessage(bytesOf(chatLog(200_000)));
    const binary = await deflateMessage(new Uint8Array(5000));
    // One chunk: everything after the first message waits for it.
    const chunk = [
      ...compressedFrame(Opcode.Text, big),
      ...text("plain"),
      ...maskedFrame(Opcode.Ping, "p"),
      ...compressedFrame(Opcode.Binary, binary),
      ...compressedFrame(Opcode.Text, syncFlushedStoredBlock("small")),
      ...closeFrame(4000, "bye"),
    ];
    conn.push(new Uint8Array(chunk));
    await done;
    assert.deepEqual(log.entries, [
      "open",
      "text:200000 chars",
      "text:plain",
      "ping:p",
      "binary:5000",
      "text:small",
      "close:4000:clean",
    ]);
    const frames = conn.frames();
    assert.deepEqual(frames.map((f) => f.opcode), [Opcode.Pong, Opcode.Close]);
    assert.equal(closeCodeOf(frames[1]), 4000);
  });

  test("the same order when the frames arrive in separate reads", async () => {
    const { conn, log, done } = openDeflateSocket();
    conn.push(
      compressedFrame(
        Opcode.Text,
        await deflateMessage(bytesOf("a".repeat(9))),
      ),
      text("b"),
      compressedFrame(Opcode.Text, syncFlushedStoredBlock("c")),
      maskedFrame(Opcode.Ping, "d"),
      closeFrame(1000),
    );
    await done;
    assert.deepEqual(log.entries, [
      "open",
      "text:aaaaaaaaa",
      "text:b",
      "text:c",
      "ping:d",
      "close:1000:clean",
    ]);
  });

  test("for await yields inflated messages in order", async () => {
    const { socket, conn, done } = openDeflateSocket();
    const received: string[] = [];
    const loop = (async () => {
      for await (const message of socket) received.push(message as string);
    })();
    for (let i = 0; i < 20; i++) {
      const message = `${i}:${chatLog(2000)}`;
      conn.push(
        i % 2 === 0
          ? compressedFrame(Opcode.Text, await deflateMessage(bytesOf(message)))
          : text(message),
      );
    }
    conn.push(closeFrame(1000));
    await done;
    await loop;
    assert.equal(received.length, 20);
    for (let i = 0; i < 20; i++) assert.ok(received[i].startsWith(`${i}:`));
  });

  test("a compressed message arriving after close() is dropped", async () => {
    const { socket, conn, log, done } = openDeflateSocket(0, {
      closeTimeout: 2000,
    });
    conn.push(compressedFrame(Opcode.Text, syncFlushedStoredBlock("before")));
    await log.waitFor(2);
    socket.close(1000);
    conn.push(
      compressedFrame(
        Opcode.Text,
        await deflateMessage(bytesOf(chatLog(1_000_000))),
      ),
      compressedFrame(Opcode.Text, syncFlushedStoredBlock("after")),
      closeFrame(1000),
    );
    await done;
    assert.deepEqual(log.entries, [
      "open",
      "text:before",
      "close:1000:clean",
    ]);
  });

  test("close() in a listener drops the compressed messages after it in the same read", async () => {
    const { socket, conn, log, done } = openDeflateSocket(0, {
      closeTimeout: 2000,
    });
    socket.addEventListener("message", () => socket.close(1000));
    conn.push(
      new Uint8Array([
        ...compressedFrame(Opcode.Text, syncFlushedStoredBlock("first")),
        ...compressedFrame(Opcode.Text, syncFlushedStoredBlock("second")),
        ...maskedFrame(Opcode.Ping, "p"),
        ...closeFrame(1000),
      ]),
    );
    await done;
    assert.deepEqual(log.entries, [
      "open",
      "text:first",
      "ping:p",
      "close:1000:clean",
    ]);
  });
});
