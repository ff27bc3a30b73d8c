// permessage-deflate (RFC 7692) in the socket, over an in-memory
// connection where the test plays the peer: inflating what arrives (in
// arrival order, with limits), compressing what is sent (threshold, order),
// and failing the connection on bad compressed data.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  attachConnection,
  createPendingSocket,
  queueEncodedFrame,
  type WebSocketConnection,
  type WebSocketOptions,
} from "../websocket.ts";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  Opcode,
  RSV1,
} from "../frame.ts";
import { encodeClosePayload, type Role } from "../protocol.ts";
import { deflateMessage, inflateMessage } from "../deflate.ts";
import {
  closeCodeOf,
  closeFrame,
  decoder,
  encoder,
  FakeConn,
  maskedFrame,
  openSocket,
  text,
} from "./websocket_helpers.ts";

const AGREED = "permessage-deflate; server_no_context_takeover; " +
  "client_no_context_takeover";

/** Every event of a socket as a short string, with a way to wait for more. */
class EventLog {
  readonly entries: string[] = [];
  #waiters: Array<() => void> = [];

  constructor(socket: WebSocketConnection) {
    socket.addEventListener("open", () => this.#add("open"));
    socket.addEventListener("error", () => this.#add("error"));
    socket.addEventListener("message", (event) => {
      const data = event.data;
      this.#add(
        typeof data === "string"
          ? `text:${data.length > 20 ? `${data.length} chars` : data}`
          : `binary:${(data as ArrayBuffer).byteLength}`,
      );
    });
    socket.addEventListener(
      "ping",
      (event) => this.#add(`ping:${decoder.decode(event.data)}`),
    );
    socket.addEventListener("close", (event) => {
      this.#add(
        `close:${event.code}:${event.wasClean ? "clean" : "unclean"}`,
      );
    });
  }

  /** Resolves once at least `count` events were logged. */
  async waitFor(count: number): Promise<void> {
    while (this.entries.length < count) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #add(entry: string): void {
    this.entries.push(entry);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** An open socket that agreed permessage-deflate, over a fake connection. */
function openDeflateSocket(
  threshold = 0,
  options: WebSocketOptions = {},
  role: Role = "server",
) {
  const socket = createPendingSocket(role, { pingInterval: 0, ...options });
  socket.binaryType = "arraybuffer";
  const log = new EventLog(socket);
  const conn = new FakeConn();
  const done = attachConnection(socket, conn, new Uint8Array(0), {
    protocol: "",
    extensions: AGREED,
    perMessageDeflate: { threshold },
  });
  return { socket, conn, log, done };
}

/** A data frame as a client sends it (masked), RSV1 set unless told. */
function compressedFrame(
  opcode: Opcode,
  payload: Uint8Array,
  { fin = true, rsv1 = true, mask = true } = {},
): Uint8Array {
  return encodeFrame(opcode, payload, { fin, rsv1, mask });
}

function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/**
 * The payload a zlib-based peer sends for `data` after a sync flush: one
 * non-final stored block, then the header byte of the empty stored block
 * whose `00 00 ff ff` was stripped (RFC 7692 section 7.2.1). Built by hand,
 * so it does not depend on the deflate code under test.
 */
function syncFlushedStoredBlock(data: string | Uint8Array): Uint8Array {
  const bytes = bytesOf(data);
  assert.ok(bytes.length <= 0xffff);
  const payload = new Uint8Array(5 + bytes.length + 1);
  payload[0] = 0x00; // BFINAL 0, BTYPE 00 (stored)
  payload[1] = bytes.length & 0xff;
  payload[2] = bytes.length >>> 8;
  payload[3] = ~bytes.length & 0xff;
  payload[4] = (~bytes.length >>> 8) & 0xff;
  payload.set(bytes, 5);
  payload[5 + bytes.length] = 0x00; // the empty block's header
  return payload;
}

/** Text that deflates well. */
function chatLog(bytes: number): string {
  let text = "";
  for (let i = 0; text.length < bytes; i++) {
    text += `{"user":"user${i % 7}","text":"message number ${i}"},`;
  }
  return text.slice(0, bytes);
}

/** Bytes that do not deflate (xorshift, fixed seed). */
function noise(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** Every frame the socket wrote, RSV1 allowed. */
function writtenFrames(conn: FakeConn, role: Role = "server"): Frame[] {
  const frames: Frame[] = [];
  const frameDecoder = new FrameDecoder({
    expectMasked: role === "client",
    allowedReservedBits: RSV1,
  });
  frameDecoder.push(conn.written);
  for (let frame = frameDecoder.next(); frame; frame = frameDecoder.next()) {
    frames.push(frame);
  }
  return frames;
}

/** The data frames the socket wrote (pongs and close left out). */
function dataFrames(conn: FakeConn, role: Role = "server"): Frame[] {
  return writtenFrames(conn, role).filter((frame) =>
    frame.opcode === Opcode.Text || frame.opcode === Opcode.Binary ||
    frame.opcode === Opcode.Continuation
  );
}

function closeFrameOf(conn: FakeConn, role: Role = "server"): Frame {
  const close = writtenFrames(conn, role).find((f) =>
    f.opcode === Opcode.Close
  );
  assert.ok(close, "a close frame was written");
  return close;
}

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

  test("a message arriving after close() is dropped, even mid-inflation", async () => {
    const { socket, conn, log, done } = openDeflateSocket(0, {
      closeTimeout: 2000,
    });
    conn.push(
      new Uint8Array([
        ...compressedFrame(
          Opcode.Text,
          await deflateMessage(bytesOf(chatLog(1_000_000))),
        ),
        ...maskedFrame(Opcode.Ping, "read"),
      ]),
    );
    // Close as soon as the socket has read the message (its pong is out),
    // most likely while it is being inflated: nothing may be delivered after
    // close() whichever comes first.
    await conn.until(() => conn.frames().length === 1);
    const before = log.entries.length;
    socket.close(1000);
    conn.push(closeFrame(1000));
    await done;
    const after = log.entries.slice(before);
    assert.deepEqual(after.filter((entry) => entry.startsWith("text:")), []);
    assert.equal(after.at(-1), "close:1000:clean");
  });
});

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

  test("a message that does not shrink goes out uncompressed", async () => {
    const { socket, conn, done } = openDeflateSocket(0);
    const random = noise(4096);
    socket.send(random);
    socket.send(chatLog(4096));
    await conn.until(() => dataFrames(conn).length === 2);
    const [plain, compressed] = dataFrames(conn);
    assert.equal(plain.rsv1, false);
    assert.deepEqual(plain.payload, random);
    assert.equal(compressed.rsv1, true);
    conn.push(closeFrame(1000));
    await done;
  });

  test("threshold 0 compresses even a short message when it shrinks", async () => {
    const { socket, conn, done } = openDeflateSocket(0);
    socket.send("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    await conn.until(() => dataFrames(conn).length === 1);
    assert.equal(dataFrames(conn)[0].rsv1, true);
    conn.push(closeFrame(1000));
    await done;
  });

  test("one FIFO: plain messages, a Blob and the close wait behind a compression", async () => {
    const { socket, conn, done } = openDeflateSocket(1000);
    const big = chatLog(100_000);
    socket.send(big);
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
      [Opcode.Text, true],
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
        // Only the close echo went out: nothing may follow it.
        assert.deepEqual(writtenFrames(conn).map((f) => f.opcode), [
          Opcode.Close,
        ]);
        assert.ok(socket.bufferedAmount >= "last words".length + 5000);
      },
    );
  }
});

describe("permessage-deflate: failures", () => {
  test("a zip bomb fails the connection with 1009 without inflating it all", async () => {
    const { conn, log, done } = openDeflateSocket(0, {
      maxMessageSize: 1000,
    });
    const bomb = await deflateMessage(new Uint8Array(500_000));
    assert.ok(bomb.length < 1000, "the compressed bomb fits the limit");
    conn.push(compressedFrame(Opcode.Binary, bomb));
    await done;
    assert.equal(closeCodeOf(closeFrameOf(conn)), 1009);
    assert.deepEqual(log.entries, ["open", "error", "close:1009:unclean"]);
  });

  test("invalid DEFLATE data fails the connection with 1007", async () => {
    const { conn, log, done } = openDeflateSocket();
    // BTYPE 11 is reserved: no valid DEFLATE stream starts like this.
    conn.push(compressedFrame(Opcode.Text, new Uint8Array([0xff, 0xff, 0xff])));
    conn.push(text("never delivered"));
    await done;
    assert.equal(closeCodeOf(closeFrameOf(conn)), 1007);
    assert.deepEqual(log.entries, ["open", "error", "close:1007:unclean"]);
  });

  test("invalid UTF-8 inside compressed text fails the connection with 1007", async () => {
    const { conn, log, done } = openDeflateSocket();
    const invalid = new Uint8Array([0x48, 0x69, 0xc3, 0x28]); // "Hi" + bad pair
    conn.push(compressedFrame(Opcode.Text, syncFlushedStoredBlock(invalid)));
    await done;
    const close = closeFrameOf(conn);
    assert.equal(closeCodeOf(close), 1007);
    assert.match(decoder.decode(close.payload.subarray(2)), /UTF-8/);
    assert.deepEqual(log.entries, ["open", "error", "close:1007:unclean"]);
  });

  test("the same invalid UTF-8 in compressed binary is fine", async () => {
    const { conn, log, done } = openDeflateSocket();
    const bytes = new Uint8Array([0x48, 0x69, 0xc3, 0x28]);
    conn.push(compressedFrame(Opcode.Binary, syncFlushedStoredBlock(bytes)));
    conn.push(closeFrame(1000));
    await done;
    assert.deepEqual(log.entries, ["open", "binary:4", "close:1000:clean"]);
  });

  test("RSV1 without permessage-deflate agreed fails with 1002", async () => {
    const { conn, log, done } = openSocket();
    conn.push(
      compressedFrame(Opcode.Text, await deflateMessage(bytesOf("hello"))),
    );
    await done;
    assert.equal(closeCodeOf(closeFrameOf(conn)), 1002);
    assert.deepEqual(log.slice(0, 2), ["open", "error"]);
    assert.match(log[2], /^close:1002:.*:unclean$/);
  });

  test("RSV1 on a continuation or control frame fails with 1002", async () => {
    for (
      const [opcode, first] of [[Opcode.Continuation, true], [
        Opcode.Ping,
        false,
      ]] as const
    ) {
      const { conn, log, done } = openDeflateSocket();
      if (first) {
        conn.push(compressedFrame(Opcode.Text, new Uint8Array([0]), {
          fin: false,
        }));
      }
      conn.push(compressedFrame(opcode, new Uint8Array(0)));
      await done;
      assert.equal(closeCodeOf(closeFrameOf(conn)), 1002, String(opcode));
      assert.deepEqual(log.entries, ["open", "error", "close:1002:unclean"]);
    }
  });

  test("extensions stays empty and nothing is compressed when not agreed", async () => {
    const { socket, conn, done } = openSocket();
    assert.equal(socket.extensions, "");
    socket.send(chatLog(10_000));
    await conn.until(() => conn.frames().length === 1);
    assert.equal(conn.frames()[0].rsv1, false);
    conn.push(closeFrame(1000));
    await done;
  });

  test("an invalid threshold is a RangeError at attach", () => {
    const socket = createPendingSocket("server", { pingInterval: 0 });
    const conn = new FakeConn();
    assert.throws(
      () =>
        attachConnection(socket, conn, new Uint8Array(0), {
          protocol: "",
          extensions: AGREED,
          perMessageDeflate: { threshold: -1 },
        }),
      RangeError,
    );
    assert.equal(socket.readyState, socket.CONNECTING);
    assert.equal(conn.closed, false);
  });
});
