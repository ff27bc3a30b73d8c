/**
 * The decoder's memory follows the bytes that arrive, not the lengths that
 * headers announce, and it holds nothing once it failed; whole binary
 * messages in buffers of their own when asked; frames read into one record.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { encodeFrame } from "../../../frame/encoder.ts";
import { FrameDecoder } from "../../../frame/decoder.ts";
import { type Frame, Opcode, RSV1 } from "../../../frame/types.ts";
import { DEFAULTS } from "../../../defaults.ts";
import { concat } from "../../support/bytes.ts";

/** A masked binary frame header announcing `length` bytes (64-bit form). */
function bigFrameHeader(length: number): Uint8Array {
  const header = new Uint8Array(14);
  header[0] = 0x82;
  header[1] = 0x80 | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  header.set([1, 2, 3, 4], 10);
  return header;
}

describe("FrameDecoder memory", () => {
  test("announcing 60 MiB and sending 10 bytes allocates far less than 60 MiB", () => {
    const announced = 60 * 1024 * 1024;
    const decoders: FrameDecoder[] = [];
    const before = process.memoryUsage().external;
    for (let index = 0; index < 50; index++) {
      const decoder = new FrameDecoder({ expectMasked: true });
      decoder.push(bigFrameHeader(announced));
      assert.equal(decoder.next(), undefined);
      decoder.push(new Uint8Array(10));
      assert.equal(decoder.next(), undefined);
      assert.equal(decoder.bufferedBytes, 10);
      decoders.push(decoder);
    }
    const grown = process.memoryUsage().external - before;
    // 50 x 60 MiB were reserved up front before; now 50 x 64 KiB at most.
    assert.ok(
      grown < 50 * DEFAULTS.limits.payloadInitialBytes * 2,
      `array buffers grew by ${grown} bytes`,
    );
    assert.equal(decoders.length, 50);
  });

  test("a large payload in small pieces is gathered exactly", () => {
    const payload = new Uint8Array(
      5 * DEFAULTS.limits.payloadInitialBytes + 123,
    );
    for (let index = 0; index < payload.length; index++) {
      payload[index] = (index * 31) & 0xff;
    }
    const frame = encodeFrame(Opcode.Binary, payload, { mask: true });
    const decoder = new FrameDecoder({ expectMasked: true });
    let decoded: Uint8Array | undefined;
    for (let start = 0; start < frame.length; start += 1000) {
      decoder.push(frame.slice(start, start + 1000));
      const next = decoder.next();
      if (next !== undefined) decoded = next.payload;
    }
    assert.ok(decoded !== undefined);
    assert.equal(decoded.length, payload.length);
    assert.deepEqual(decoded, payload);
  });

  test("a failed decoder holds no bytes", () => {
    // A header split across pushes whose second byte lacks the mask bit.
    const failing = new FrameDecoder({ expectMasked: true });
    failing.push(new Uint8Array([0x82]));
    assert.equal(failing.next(), undefined);
    assert.equal(failing.bufferedBytes, 1);
    failing.push(new Uint8Array([0x00, 0x81, 0x80, 1, 2, 3, 4]));
    assert.throws(() => failing.next());
    assert.equal(failing.bufferedBytes, 0);
  });
});

describe("FrameDecoder ownBinaryPayloads", () => {
  /** The payloads `decoder` reads from one chunk of `frames`. */
  function decodeAll(decoder: FrameDecoder, frames: Uint8Array[]) {
    const chunk = concat(...frames);
    decoder.push(chunk);
    const payloads: Uint8Array[] = [];
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      payloads.push(frame.payload);
    }
    return { chunk, payloads };
  }

  for (const masked of [true, false]) {
    test(`whole binary messages come out owned and unmasked (${masked ? "masked" : "unmasked"})`, () => {
      const decoder = new FrameDecoder({
        expectMasked: masked,
        ownBinaryPayloads: true,
      });
      const small = Uint8Array.from({ length: 13 }, (_, index) => index);
      const large = Uint8Array.from({ length: 300 }, (_, index) => index * 7);
      const mask = masked ? new Uint8Array([9, 8, 7, 6]) : false;
      const { chunk, payloads } = decodeAll(decoder, [
        encodeFrame(Opcode.Binary, small, { mask }),
        encodeFrame(Opcode.Binary, large, { mask }),
        encodeFrame(Opcode.Text, small, { mask }),
        encodeFrame(Opcode.Binary, small, { mask, fin: false }),
      ]);
      assert.deepEqual(payloads, [small, large, small, small]);
      // The two whole binary messages own their buffers; the text frame and
      // the fragment are views of the chunk, as without the option.
      for (const payload of payloads.slice(0, 2)) {
        assert.notEqual(payload.buffer, chunk.buffer);
        assert.equal(payload.byteLength, payload.buffer.byteLength);
      }
      for (const payload of payloads.slice(2)) {
        assert.equal(payload.buffer, chunk.buffer);
      }
    });
  }

  test("without the option a binary payload is a view of the chunk", () => {
    const decoder = new FrameDecoder({ expectMasked: false });
    const { chunk, payloads } = decodeAll(decoder, [
      encodeFrame(Opcode.Binary, new Uint8Array([1, 2, 3])),
    ]);
    assert.equal(payloads[0].buffer, chunk.buffer);
  });
});

describe("FrameDecoder nextInto", () => {
  test("fills one record per frame as next() would return it", () => {
    const frames = [
      encodeFrame(Opcode.Text, new Uint8Array([104, 105]), {
        mask: true,
        fin: false,
      }),
      encodeFrame(Opcode.Continuation, new Uint8Array([33]), {
        mask: true,
        rsv1: true,
      }),
      encodeFrame(Opcode.Ping, new Uint8Array(0), { mask: true }),
    ];
    const bytes = concat(...frames);
    const reference = new FrameDecoder({
      expectMasked: true,
      allowedReservedBits: RSV1,
    });
    reference.push(bytes.slice());
    const decoder = new FrameDecoder({
      expectMasked: true,
      allowedReservedBits: RSV1,
    });
    // The last byte comes later: the last frame is incomplete at first.
    decoder.push(bytes.slice(0, -1));
    const record: Frame = {
      fin: false,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: Opcode.Binary,
      masked: false,
      payload: new Uint8Array(0),
    };
    for (let index = 0; index < 2; index++) {
      assert.equal(decoder.nextInto(record), true);
      assert.deepEqual({ ...record }, reference.next());
    }
    const before = { ...record };
    assert.equal(decoder.nextInto(record), false);
    assert.deepEqual({ ...record }, before);
    decoder.push(bytes.slice(-1));
    assert.equal(decoder.nextInto(record), true);
    assert.deepEqual({ ...record }, reference.next());
  });
});
