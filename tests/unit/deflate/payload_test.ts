import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
// node:zlib stands in for the zlib-based peers (ws, Python websockets,
// browsers); it is used only here, never by the library.
import zlib from "node:zlib";
import { deflateMessage, inflateMessage } from "../../../deflate/payload.ts";
import { concat } from "../../support/bytes.ts";
import {
  CloseCode,
  InvalidPayloadError,
  MessageTooBigError,
} from "../../../errors.ts";

/** The 0x00 0x00 0xff 0xff of RFC 7692 section 7.2.1, written out here. */
const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
const MiB = 1024 * 1024;
const encoder = new TextEncoder();

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  return bytes;
}

/** Text that compresses well but not trivially. */
function sampleText(length: number): Uint8Array {
  const words = ["frame", "mask", "opcode", "payload", "deflate", "window"];
  let text = "";
  for (let i = 0; text.length < length; i++) {
    text += words[(i * 7 + (i >> 3)) % words.length] +
      (i % 11 === 0 ? "\n" : " ");
  }
  return encoder.encode(text.slice(0, length));
}

function endsWith(bytes: Uint8Array, suffix: Uint8Array): boolean {
  if (bytes.length < suffix.length) return false;
  const start = bytes.length - suffix.length;
  return suffix.every((byte, i) => bytes[start + i] === byte);
}

/** What a zlib-based peer sends: sync-flushed data minus the tail. */
function zlibPayload(
  data: Uint8Array,
  options: zlib.ZlibOptions = {},
): Uint8Array {
  const flushed = new Uint8Array(
    zlib.deflateRawSync(data, {
      ...options,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    }),
  );
  assert.ok(endsWith(flushed, TAIL), "zlib's sync flush ends with the tail");
  return flushed.subarray(0, flushed.length - TAIL.length);
}

/** How a zlib-based peer inflates a payload (RFC 7692 section 7.2.2). */
function zlibInflate(payload: Uint8Array): Uint8Array {
  return new Uint8Array(
    zlib.inflateRawSync(concat(payload, TAIL), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    }),
  );
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.split(" "), (byte) => parseInt(byte, 16));
}

function assertBytesEqual(
  actual: Uint8Array,
  expected: Uint8Array,
  label = "",
) {
  assert.equal(actual.length, expected.length, `${label} length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(
        `${label} differs at byte ${i}: ${actual[i]} !== ${expected[i]}`,
      );
    }
  }
}

function assertInflatesTo(
  payload: Uint8Array,
  expected: Uint8Array,
  label = "",
): void {
  assertBytesEqual(inflateMessage(payload, 64 * MiB), expected, label);
}

function assertInvalid(payload: Uint8Array, label: string): void {
  assert.throws(() => inflateMessage(payload, MiB), (error: unknown) => {
    assert.ok(error instanceof InvalidPayloadError, `${label}: ${error}`);
    assert.equal(error.closeCode, CloseCode.InvalidPayloadData);
    assert.equal(error.rule, "InvalidCompressedData");
    assert.match(error.message, /not valid DEFLATE data/);
    return true;
  });
}

const MESSAGES: Array<[string, Uint8Array]> = [
  ["empty", new Uint8Array(0)],
  ["1 byte", Uint8Array.of(0x41)],
  ["short text", encoder.encode("Hello")],
  ["text", sampleText(20_000)],
  ["1 MiB random", randomBytes(MiB)],
  ["1 MiB zeros", new Uint8Array(MiB)],
  ["random ending in the tail", concat(randomBytes(300), TAIL)],
  ["text ending in the tail", concat(sampleText(3000), TAIL)],
];

describe("deflateMessage and inflateMessage", () => {
  test("round trips", async () => {
    for (const [label, message] of MESSAGES) {
      const copy = message.slice();
      const payload = await deflateMessage(message);
      assertBytesEqual(message, copy, `${label}: input untouched`);
      await assertInflatesTo(payload, message, label);
    }
  });

  test("compression pays off for compressible data", async () => {
    assert.ok((await deflateMessage(new Uint8Array(MiB))).length < 8192);
    assert.ok((await deflateMessage(sampleText(20_000))).length < 5_000);
  });

  test("an empty message is the single byte 00 (RFC 7692 section 7.2.3.6)", async () => {
    assertBytesEqual(await deflateMessage(new Uint8Array(0)), Uint8Array.of(0));
  });

  test("zlib inflates what we send (RFC 7692 section 7.2.2)", async () => {
    for (const [label, message] of MESSAGES) {
      const payload = await deflateMessage(message);
      assertBytesEqual(zlibInflate(payload), message, label);
    }
  });

  test("after our final block the appended tail completes an empty stored block", async () => {
    // Decoders such as Chromium's keep inflating after a final block. What
    // follows the end of our DEFLATE stream, once the receiver appended the
    // tail, must be nothing or exactly one empty stored block.
    for (const [label, message] of MESSAGES) {
      const received = concat(await deflateMessage(message), TAIL);
      const result = zlib.inflateRawSync(received, {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        info: true,
      } as zlib.ZlibOptions) as unknown as {
        buffer: Uint8Array;
        engine: { bytesWritten: number };
      };
      const rest = received.subarray(result.engine.bytesWritten);
      if (rest.length === 0) continue; // a stream ending exactly at the tail
      assertBytesEqual(
        rest,
        hex("00 00 00 ff ff"),
        `${label}: after the stream`,
      );
    }
  });

  test("ws inflates several of our messages in a row on one connection", async () => {
    const require = createRequire(import.meta.url);
    const WsPerMessageDeflate = require(
      new URL(
        "../../../node_modules/ws/lib/permessage-deflate.js",
        import.meta.url,
      )
        .pathname,
    );
    const client = new WsPerMessageDeflate({ isServer: false });
    client.accept([{
      server_no_context_takeover: [true],
      client_no_context_takeover: [true],
    }]);
    const decompress = (payload: Uint8Array) =>
      new Promise<Uint8Array>((resolve, reject) =>
        client.decompress(
          payload,
          true,
          (error: Error | null, data: Uint8Array) =>
            error ? reject(error) : resolve(new Uint8Array(data)),
        )
      );
    const compress = (message: Uint8Array) =>
      new Promise<Uint8Array>((resolve, reject) =>
        client.compress(
          message,
          true,
          (error: Error | null, data: Uint8Array) =>
            error ? reject(error) : resolve(new Uint8Array(data)),
        )
      );
    for (const [label, message] of [...MESSAGES, ...MESSAGES]) {
      assertBytesEqual(
        await decompress(await deflateMessage(message)),
        message,
        `ws inflating ours: ${label}`,
      );
      await assertInflatesTo(
        await compress(message),
        message,
        `ws's: ${label}`,
      );
    }
    client.cleanup();
  });

  test("many messages at once stay independent", async () => {
    const messages = Array.from(
      { length: 24 },
      (_, i) => sampleText(500 + i * 977),
    );
    const results = await Promise.all(
      messages.map(async (message) =>
        inflateMessage(await deflateMessage(message), MiB)
      ),
    );
    results.forEach((result, i) =>
      assertBytesEqual(result, messages[i], `#${i}`)
    );
  });
});

describe("inflateMessage: what peers send", () => {
  test("the examples of RFC 7692 section 7.2.3", async () => {
    const hello = encoder.encode("Hello");
    // 7.2.3.1: one compressed block, sync-flushed, tail removed.
    await assertInflatesTo(hex("f2 48 cd c9 c9 07 00"), hello, "7.2.3.1");
    // 7.2.3.3: a stored (uncompressed) block.
    await assertInflatesTo(
      hex("00 05 00 fa ff 48 65 6c 6c 6f 00"),
      hello,
      "7.2.3.3",
    );
    // 7.2.3.4: a final block, then the 00 left by section 7.2.1.
    await assertInflatesTo(hex("f3 48 cd c9 c9 07 00 00"), hello, "7.2.3.4");
    // 7.2.3.5: two blocks in one message.
    await assertInflatesTo(
      hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"),
      hello,
      "7.2.3.5",
    );
    // 7.2.3.6: an empty compressed payload.
    await assertInflatesTo(hex("00"), new Uint8Array(0), "7.2.3.6");
  });

  test("a final block with nothing after it, or a final empty stored block", async () => {
    const hello = encoder.encode("Hello");
    await assertInflatesTo(hex("f3 48 cd c9 c9 07 00"), hello, "final only");
    await assertInflatesTo(hex("f3 48 cd c9 c9 07 00 01"), hello, "then 01");
    await assertInflatesTo(hex("01"), new Uint8Array(0), "01 alone");
  });

  test("an empty payload is an empty message", () => {
    assertBytesEqual(
      inflateMessage(new Uint8Array(0), 0),
      new Uint8Array(0),
    );
  });

  test("zlib's sync-flushed data at every level, strategy and window", async () => {
    const messages = [
      new Uint8Array(0),
      Uint8Array.of(7),
      sampleText(70_000),
      randomBytes(70_000),
      concat(sampleText(5000), randomBytes(5000), new Uint8Array(5000)),
    ];
    const { constants } = zlib;
    const optionSets: zlib.ZlibOptions[] = [];
    for (let level = 0; level <= 9; level++) optionSets.push({ level });
    for (
      const strategy of [
        constants.Z_FILTERED,
        constants.Z_HUFFMAN_ONLY,
        constants.Z_RLE,
        constants.Z_FIXED,
      ]
    ) optionSets.push({ strategy });
    for (let windowBits = 9; windowBits <= 15; windowBits++) {
      optionSets.push({ windowBits, memLevel: 1 });
    }
    for (const options of optionSets) {
      for (const message of messages) {
        await assertInflatesTo(
          zlibPayload(message, options),
          message,
          `${JSON.stringify(options)}, ${message.length} bytes`,
        );
      }
    }
  });

  test("several sync flushes in one message (a fragmented sender)", async () => {
    const parts = [sampleText(3000), randomBytes(2000), sampleText(10)];
    const flushed = parts.map((part) =>
      new Uint8Array(
        zlib.deflateRawSync(part, { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
      )
    );
    const payload = concat(...flushed);
    await assertInflatesTo(
      payload.subarray(0, payload.length - TAIL.length),
      concat(...parts),
    );
  });

  test("complete DEFLATE streams (BFINAL) as compressors that cannot flush send them", async () => {
    for (const [label, message] of MESSAGES) {
      const finished = new Uint8Array(zlib.deflateRawSync(message));
      // Sent as is (RFC 7692 section 7.2.3.4).
      await assertInflatesTo(finished, message, `${label}: final block`);
      // Section 7.2.1 applied: one 00 appended ...
      await assertInflatesTo(
        concat(finished, Uint8Array.of(0)),
        message,
        `${label}: +00`,
      );
      // ... or, when it ends with 00 00 ff ff, those removed.
      if (endsWith(finished, TAIL)) {
        await assertInflatesTo(
          finished.subarray(0, finished.length - TAIL.length),
          message,
          `${label}: tail removed`,
        );
      }
    }
  });

  test("a stored final block whose data ends with the tail, tail removed", async () => {
    const message = concat(randomBytes(1000), TAIL);
    const finished = new Uint8Array(zlib.deflateRawSync(message, { level: 0 }));
    assert.ok(endsWith(finished, TAIL));
    await assertInflatesTo(
      finished.subarray(0, finished.length - TAIL.length),
      message,
    );
  });
});

describe("inflateMessage: limits and invalid data", () => {
  test("the size limit is exact", async () => {
    const message = sampleText(5000);
    const payload = await deflateMessage(message);
    assertBytesEqual(inflateMessage(payload, 5000), message);
    assert.throws(() => inflateMessage(payload, 4999), (error: unknown) => {
      assert.ok(error instanceof MessageTooBigError);
      assert.equal(error.closeCode, CloseCode.MessageTooBig);
      assert.equal(error.rule, "MessageTooLarge");
      return true;
    });
  });

  test("a zip bomb fails with 1009 once past the limit, before the rest is read", () => {
    // 16 MiB of zeros (about 16 KiB sync-flushed), then a block of the
    // reserved type, which is only reached when the limit allows it all.
    const bomb = new Uint8Array(
      zlib.deflateRawSync(new Uint8Array(16 * MiB), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      }),
    );
    assert.ok(bomb.length < 32 * 1024);
    const payload = concat(bomb, hex("07"));
    for (const maxSize of [0, 1, 64 * 1024, 8 * MiB, 16 * MiB - 1]) {
      assert.throws(
        () => inflateMessage(payload, maxSize),
        MessageTooBigError,
      );
    }
    assert.throws(
      () => inflateMessage(payload, 16 * MiB),
      InvalidPayloadError,
    );
  });

  test("messages are arrays of their own, and the payload is read at once", () => {
    const first = sampleText(3000);
    const second = sampleText(7000).reverse();
    const inflatedFirst = inflateMessage(zlibPayload(first), MiB);
    const payload = zlibPayload(second);
    const inflatedSecond = inflateMessage(payload, MiB);
    payload.fill(0xff); // a read buffer reused at once
    assertBytesEqual(inflatedFirst, first, "first");
    assertBytesEqual(inflatedSecond, second, "second");
    assert.equal(inflatedFirst.buffer.byteLength, first.length);
    assert.equal(inflatedSecond.buffer.byteLength, second.length);
  });

  test("invalid data fails with close code 1007", async () => {
    await assertInvalid(hex("ff ff ff"), "reserved block type");
    await assertInvalid(hex("07"), "reserved block type, one byte");
    await assertInvalid(hex("06"), "reserved block type, not final");
    await assertInvalid(
      hex("00 05 00 00 00 48 65 6c 6c 6f 00"),
      "stored length mismatch",
    );
    // RFC 7692 7.2.3.2's second message refers to the first one's window,
    // which we never keep (no_context_takeover is always agreed).
    await assertInvalid(hex("f2 00 11 00 00"), "distance too far back");
    // Random data is not always invalid DEFLATE; after a reserved block
    // type it is.
    await assertInvalid(concat(hex("ff"), randomBytes(50)), "random");
  });

  // Regression: the first RFC 1951 decoder of our own refused these, where
  // zlib (and so ws and Node) stop reading at the end of the final block.
  test("what follows a final block is not read, as zlib does not read it", async () => {
    const hello = hex("f3 48 cd c9 c9 07 00"); // "Hello" in a final block
    const one = new Uint8Array(zlib.deflateRawSync(encoder.encode("one")));
    const two = new Uint8Array(zlib.deflateRawSync(encoder.encode("two")));
    const cases: Array<[string, Uint8Array, string]> = [
      ["a second DEFLATE stream", concat(one, two), "one"],
      ["a reserved block type", concat(hello, hex("07")), "Hello"],
      ["a byte ff", concat(hello, hex("ff")), "Hello"],
      ["random bytes", concat(hello, randomBytes(100)), "Hello"],
      ["a stored block with bad lengths", concat(hello, hex("05 00")), "Hello"],
    ];
    for (const [label, payload, text] of cases) {
      const expected = encoder.encode(text);
      assertBytesEqual(zlibInflate(payload), expected, `${label}: zlib`);
      await assertInflatesTo(payload, expected, label);
    }
  });

  // Regression: RFC 7692 section 7.2.1 says to remove the tail, but a
  // sender that leaves it sends valid DEFLATE data: with the receiver's
  // tail appended it ends in the length fields of an empty stored block,
  // where zlib-based receivers stop reading without an error.
  test("a sender that did not strip the 00 00 ff ff tail", async () => {
    const messages = [
      new Uint8Array(0),
      encoder.encode("Hello"),
      sampleText(20_000),
      randomBytes(70_000),
    ];
    for (const message of messages) {
      const payload = concat(zlibPayload(message), TAIL);
      assertBytesEqual(zlibInflate(payload), message, "zlib");
      await assertInflatesTo(payload, message, `${message.length} bytes`);
    }
    // RFC 7692 section 7.2.3.1's "Hello", tail kept.
    await assertInflatesTo(
      hex("f2 48 cd c9 c9 07 00 00 00 ff ff"),
      encoder.encode("Hello"),
      "7.2.3.1 with the tail",
    );
    // Several sync flushes, none stripped.
    const parts = [sampleText(3000), randomBytes(2000)];
    const flushed = parts.map((part) =>
      new Uint8Array(
        zlib.deflateRawSync(part, { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
      )
    );
    await assertInflatesTo(concat(...flushed), concat(...parts), "two");
  });

  test("a bad maxSize is a RangeError", () => {
    for (const maxSize of [-1, 0.5, NaN, Infinity]) {
      assert.throws(() => inflateMessage(hex("00"), maxSize), RangeError);
    }
  });

  test("the payload is left untouched", () => {
    const payload = zlibPayload(sampleText(10_000));
    const copy = payload.slice();
    inflateMessage(payload, MiB);
    assert.throws(() => inflateMessage(payload, 100), MessageTooBigError);
    assertBytesEqual(payload, copy);
  });
});
