/**
 * Encoding a frame at an offset in a shared buffer gives the same bytes as
 * encoding it into bytes of its own, and touches nothing outside it.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeFrame,
  encodeFrameAt,
  encodeTextFrame,
  encodeTextFrameAt,
  frameHeaderLength,
  maxTextFrameLength,
} from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";

const KEY = new Uint8Array([0x12, 0x34, 0x56, 0x78]);

describe("encoding at an offset", () => {
  test("binary frames of every header size match encodeFrame", () => {
    for (const size of [0, 1, 125, 126, 1000, 65535, 65536]) {
      const payload = new Uint8Array(size).map((_, index) => index * 7);
      for (const key of [null, KEY]) {
        const expected = encodeFrame(Opcode.Binary, payload, {
          mask: key ?? false,
        });
        const length = frameHeaderLength(size, key !== null) + size;
        const target = new Uint8Array(length + 10).fill(0xaa);
        const end = encodeFrameAt(target, 3, Opcode.Binary, payload, key);
        assert.equal(end, 3 + expected.length);
        assert.deepEqual(target.subarray(3, end), expected);
        assert.ok(target.subarray(0, 3).every((byte) => byte === 0xaa));
        assert.ok(target.subarray(end).every((byte) => byte === 0xaa));
      }
    }
  });

  test("FIN and RSV1 are as given", () => {
    const target = new Uint8Array(8);
    encodeFrameAt(
      target,
      0,
      Opcode.Text,
      new Uint8Array([1]),
      null,
      false,
      true,
    );
    assert.equal(target[0], 0x40 | Opcode.Text);
  });

  test("text frames match encodeTextFrame, whatever the header shrinks to", () => {
    const texts = [
      "",
      "hi",
      "é".repeat(50), // a worst case of 150 bytes: 4-byte header, real 2
      "x".repeat(60),
      "€".repeat(1024),
      "a".repeat(2000), // longer than the direct limit
      "lone \ud800 surrogate",
    ];
    for (const text of texts) {
      for (const key of [null, KEY]) {
        const expected = encodeTextFrame(text, key ?? false);
        const room = maxTextFrameLength(text, key !== null);
        const target = new Uint8Array(5 + room + 5).fill(0xaa);
        const end = encodeTextFrameAt(target, 5, text, key);
        assert.equal(end - 5, expected.length, `length for ${text.length}`);
        assert.deepEqual(target.subarray(5, end), expected);
        assert.ok(target.subarray(0, 5).every((byte) => byte === 0xaa));
        assert.ok(end <= 5 + room);
      }
    }
  });
});
