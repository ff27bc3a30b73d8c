/**
 * applyMask against a byte-by-byte reference, across the three loops it
 * picks by length (bytes, 32-bit words, WebAssembly SIMD), any alignment of
 * the view and any starting phase of the key.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { applyMask, copyMasked } from "../../../frame/mask.ts";
import {
  createSimdMasker,
  SIMD_BLOCK_BYTES,
} from "../../../frame/mask_simd.ts";

/** Section 5.3 read literally: byte i is XORed with key[(offset + i) mod 4]. */
function referenceMask(data: Uint8Array, key: Uint8Array, offset: number) {
  const out = new Uint8Array(data.length);
  for (let index = 0; index < data.length; index++) {
    out[index] = data[index] ^ key[(offset + index) % 4];
  }
  return out;
}

/** Deterministic bytes without a 64 KiB getRandomValues limit. */
function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed | 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

describe("applyMask", () => {
  test("the WebAssembly SIMD loop is available in this runtime", () => {
    // Deno, Bun and Chromium all have it; without it every large payload
    // would silently take the slower word loop.
    assert.notEqual(createSimdMasker(), null);
  });

  test("lengths around every loop's boundaries, any phase and alignment", () => {
    const key = new Uint8Array([0x12, 0x34, 0x56, 0x78]);
    const lengths = [
      0,
      1,
      3,
      31,
      32,
      33,
      4095,
      2047,
      2048,
      2049,
      4096,
      4097,
      4096 + 63,
      SIMD_BLOCK_BYTES - 1,
      SIMD_BLOCK_BYTES,
      SIMD_BLOCK_BYTES + 5,
      3 * SIMD_BLOCK_BYTES + 77,
    ];
    for (const length of lengths) {
      for (const shift of [0, 1, 2, 3]) {
        for (const offset of [0, 1, 2, 3, 6]) {
          const backing = patternBytes(length + shift, length + shift);
          const data = backing.subarray(shift);
          const expected = referenceMask(data, key, offset);
          applyMask(data, key, offset);
          assert.deepEqual(
            data,
            expected,
            `length ${length}, view at +${shift}, offset ${offset}`,
          );
        }
      }
    }
  });

  test("masking twice restores the bytes; random sizes and keys", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * SIMD_BLOCK_BYTES }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer(),
        (length, shift, offset, key, seed) => {
          const backing = patternBytes(length + shift, seed);
          const data = backing.subarray(shift);
          const original = data.slice();
          applyMask(data, key, offset);
          assert.deepEqual(data, referenceMask(original, key, offset));
          applyMask(data, key, offset);
          assert.deepEqual(data, original);
          // Bytes before the view are never touched.
          for (let index = 0; index < shift; index++) {
            assert.equal(backing[index], patternBytes(shift, seed)[index]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("copyMasked", () => {
  test("writes the source masked into the target, leaving the source, at every loop's boundary, phase and alignment", () => {
    const key = new Uint8Array([0x9a, 0x01, 0xff, 0x42]);
    const lengths = [
      0,
      1,
      33,
      2047,
      2048,
      2049,
      4096 + 63,
      SIMD_BLOCK_BYTES - 1,
      SIMD_BLOCK_BYTES,
      SIMD_BLOCK_BYTES + 5,
      3 * SIMD_BLOCK_BYTES + 77,
    ];
    for (const length of lengths) {
      for (const shift of [0, 1, 3]) {
        for (const offset of [0, 1, 2, 3, 6]) {
          const source = patternBytes(length + shift, length).subarray(shift);
          const original = source.slice();
          const target = new Uint8Array(length + 7).subarray(
            7 - shift,
            7 - shift + length,
          );
          copyMasked(target, source, key, offset);
          assert.deepEqual(
            target,
            referenceMask(original, key, offset),
            `length ${length}, views at +${shift}, offset ${offset}`,
          );
          assert.deepEqual(source, original, "the source is unchanged");
        }
      }
    }
  });

  test("the target may be the source: the same as applyMask", () => {
    const key = new Uint8Array([1, 2, 3, 4]);
    const data = patternBytes(SIMD_BLOCK_BYTES + 100, 7);
    const expected = referenceMask(data, key, 2);
    copyMasked(data, data, key, 2);
    assert.deepEqual(data, expected);
  });

  test("lengths that differ are refused", () => {
    assert.throws(
      () => copyMasked(new Uint8Array(3), new Uint8Array(4), new Uint8Array(4)),
      RangeError,
    );
  });
});
