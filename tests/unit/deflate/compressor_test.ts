// The ./deflate entry's compressors: they flush at every message's end and
// never end a message with a final block, keep their window across messages
// unless told not to, stay within the agreed window (8 bits included), and
// a shared compressor serves connections in any order; the presets.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { perMessageDeflate } from "../../../deflate.ts";
import { inflateMessage } from "../../../deflate/payload.ts";
import { InflateWindow } from "../../../deflate/inflate.ts";
import { concat } from "../../support/bytes.ts";
import { Protocol } from "../../../protocol/protocol.ts";
import { PerMessageDeflate } from "../../../deflate/extension.ts";
import { Opcode } from "../../../frame/types.ts";

const encoder = new TextEncoder();
const TAIL = Uint8Array.of(0, 0, 0xff, 0xff);

function chatMessage(index: number): Uint8Array {
  return encoder.encode(JSON.stringify({
    type: "message",
    username: `user${index % 7}`,
    text: `Hello everyone, this is message number ${index}. How are you?`,
  }));
}

function compressorFor(windowBits: number, noContextTakeover: boolean) {
  return perMessageDeflate().compressors.createCompressor({
    windowBits,
    noContextTakeover,
  });
}

/** zlib's raw inflate of one message on its own, as Node reads it. */
function zlibAlone(payload: Uint8Array): Uint8Array {
  return new Uint8Array(zlib.inflateRawSync(concat(payload, TAIL), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  }));
}

/** Whether the DEFLATE data has a final block: zlib reports the stream's
 * end when inflating it through to the end. */
function endsStream(payload: Uint8Array): boolean {
  try {
    zlib.inflateRawSync(concat(payload, TAIL));
    return true; // Z_FINISH succeeded: a final block was seen
  } catch {
    return false;
  }
}

describe("the ./deflate compressors", () => {
  test("with context takeover: later messages refer back, none ends the stream", () => {
    const compressor = compressorFor(15, false);
    const window = new InflateWindow(15);
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const message = chatMessage(i);
      const payload = compressor.compress(message, true);
      assert.equal(endsStream(payload), false, `message ${i}: no final block`);
      assert.deepEqual(inflateMessage(payload, 1000, window), message);
      sizes.push(payload.length);
    }
    assert.ok(sizes[19] * 3 < sizes[0], `${sizes[0]} B, then ${sizes[19]} B`);
  });

  test("without context takeover: every message inflates on its own", () => {
    const compressor = compressorFor(15, true);
    for (let i = 0; i < 5; i++) {
      const message = chatMessage(i);
      const payload = compressor.compress(message, true);
      assert.deepEqual(zlibAlone(payload), message);
      assert.deepEqual(inflateMessage(payload, 1000), message);
    }
  });

  test("each window 8 to 15: no back reference reaches past it", () => {
    // A 600-byte block repeated at growing distances.
    const block = crypto.getRandomValues(new Uint8Array(600));
    const filler = (length: number) =>
      crypto.getRandomValues(new Uint8Array(length));
    for (let bits = 8; bits <= 15; bits++) {
      const compressor = compressorFor(bits, false);
      const window = new InflateWindow(bits);
      const messages = [block, filler(100), block, filler(5000), block];
      for (const message of messages) {
        // Our inflater refuses a reference past 2^bits with 1007.
        assert.deepEqual(
          inflateMessage(compressor.compress(message, true), 1 << 20, window),
          message,
          `${bits} bits`,
        );
      }
    }
  });

  test("an empty message is 00, however many come in a row", () => {
    const compressor = compressorFor(15, false);
    const window = new InflateWindow(15);
    for (let i = 0; i < 3; i++) {
      const payload = compressor.compress(new Uint8Array(0), true);
      assert.deepEqual(payload, Uint8Array.of(0));
      assert.deepEqual(inflateMessage(payload, 0, window), new Uint8Array(0));
    }
    const after = chatMessage(1);
    assert.deepEqual(
      inflateMessage(compressor.compress(after, true), 1000, window),
      after,
    );
  });

  test("a message in parts: the parts keep the tail, the end strips it", () => {
    const compressor = compressorFor(15, false);
    const whole = concat(chatMessage(1), chatMessage(2), chatMessage(3));
    const parts = [
      compressor.compress(chatMessage(1), false),
      compressor.compress(chatMessage(2), false),
      compressor.compress(chatMessage(3), true),
    ];
    assert.deepEqual([...parts[0].subarray(-4)], [...TAIL]);
    assert.deepEqual(inflateMessage(concat(...parts), 1000), whole);
  });

  test("output larger than the shared scratch buffer comes out whole", () => {
    const compressor = compressorFor(15, false);
    const random = crypto.getRandomValues(new Uint8Array(65536)).slice();
    const big = concat(random, random, random.subarray(0, 9999));
    const payload = compressor.compress(big, true);
    assert.ok(payload.length > 64 * 1024);
    assert.deepEqual(inflateMessage(payload, 1 << 20), big);
  });

  test("the shared preset: one compressor for every connection, any order, fragments interleaved", () => {
    const factory = perMessageDeflate({ preset: "shared" }).compressors;
    const direction = { windowBits: 15, noContextTakeover: true };
    const a = factory.createCompressor(direction);
    const b = factory.createCompressor(direction);
    assert.equal(a, b, "shared");
    assert.notEqual(
      factory.createCompressor({ windowBits: 10, noContextTakeover: true }),
      a,
      "one per window size",
    );
    const partA1 = a.compress(chatMessage(1), false);
    const wholeB = b.compress(chatMessage(2), true);
    const partA2 = a.compress(chatMessage(3), true);
    assert.deepEqual(
      zlibAlone(concat(partA1, partA2)),
      concat(chatMessage(1), chatMessage(3)),
    );
    assert.deepEqual(zlibAlone(wholeB), chatMessage(2));
    // With context takeover agreed anyway, a connection gets its own.
    assert.notEqual(
      factory.createCompressor({ windowBits: 15, noContextTakeover: false }),
      a,
    );
  });

  test("presets and options", () => {
    const lean = perMessageDeflate({ preset: "shared" }).options;
    assert.equal(lean.serverNoContextTakeover, true);
    assert.equal(lean.clientNoContextTakeover, true);
    const standard = perMessageDeflate().options;
    assert.deepEqual(standard, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 12,
      threshold: undefined,
    });
    assert.equal(
      perMessageDeflate({ preset: "dedicated-4k" }).options.serverMaxWindowBits,
      9,
    );
    assert.equal(
      perMessageDeflate({ serverMaxWindowBits: 14 }).options
        .serverMaxWindowBits,
      14,
    );
    for (
      const bad of [
        { preset: "dedicated-1k" },
        { level: 0 },
        { level: 10 },
        { memLevel: 0 },
        { threshold: -1 },
        { clientMaxWindowBits: 16 },
      ]
    ) {
      assert.throws(
        () => perMessageDeflate(bad as Parameters<typeof perMessageDeflate>[0]),
        RangeError,
        JSON.stringify(bad),
      );
    }
  });
});

describe("Protocol with the ./deflate compressors", () => {
  const TAKEOVER = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };

  test("a fragmented compressed message after a whole one, with context takeover, reads back", () => {
    const { compressors } = perMessageDeflate({ threshold: 0 });
    const client = new Protocol({
      role: "client",
      extension: new PerMessageDeflate({
        params: TAKEOVER,
        role: "client",
        compressors,
      }),
    });
    const server = new Protocol({
      role: "server",
      extension: new PerMessageDeflate({ params: TAKEOVER }),
    });
    const first = JSON.stringify({ type: "message", text: "hello, hello" });
    client.sendText(first);
    client.sendFragment(
      Opcode.Text,
      encoder.encode(first.slice(0, 10)),
      false,
      true,
    );
    client.ping();
    client.sendFragment(
      Opcode.Continuation,
      encoder.encode(first.slice(10)),
      true,
    );
    const frames = client.takeOutgoing();
    assert.equal(frames.length, 4);
    const events = server.receive(concat(...frames));
    assert.deepEqual(
      events.map((event) => event.type === "text" ? event.data : event.type),
      [first, "ping", first],
    );
  });
});
