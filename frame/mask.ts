/**
 * Masking (RFC 6455 section 5.3): fresh unpredictable keys for client
 * frames, and the XOR that masks and unmasks a payload.
 *
 * @module
 */

import { createSimdMasker, type SimdMasker } from "./mask_simd.ts";

const MASK_POOL_BYTES = 1024;
let maskPool = new Uint8Array(0);
let maskPoolOffset = 0;

/**
 * A fresh masking key from the platform's cryptographic random source
 * (section 5.3 asks for unpredictable keys). Keys come from a pool refilled
 * by `crypto.getRandomValues`, so a key is never reused.
 *
 * @returns a new 4-byte key
 */
export function randomMaskKey(): Uint8Array {
  if (maskPoolOffset + 4 > maskPool.length) {
    maskPool = crypto.getRandomValues(new Uint8Array(MASK_POOL_BYTES));
    maskPoolOffset = 0;
  }
  const key = maskPool.slice(maskPoolOffset, maskPoolOffset + 4);
  maskPoolOffset += 4;
  return key;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this many bytes a plain byte loop beats setting up word access. */
const WORD_MASK_THRESHOLD = 32;
/**
 * From this many bytes on, the WebAssembly SIMD loop (see `mask_simd.ts`)
 * beats the word loop even though it copies the bytes in and out.
 */
const SIMD_MASK_THRESHOLD = 2048;
/** The SIMD masker; `undefined` until first needed, `null` where unavailable. */
let simdMasker: SimdMasker | null | undefined;

/** The SIMD masker for `length` bytes: null below the threshold or where
 * WebAssembly SIMD is unavailable. */
function simdMaskerFor(length: number): SimdMasker | null {
  if (length < SIMD_MASK_THRESHOLD) return null;
  if (simdMasker === undefined) simdMasker = createSimdMasker();
  return simdMasker;
}

/** The key as a little-endian 32-bit word, starting at key byte `start`. */
export function maskWordFrom(key: Uint8Array, start: number): number {
  return key[start & 3] |
    (key[(start + 1) & 3] << 8) |
    (key[(start + 2) & 3] << 16) |
    (key[(start + 3) & 3] << 24);
}

/**
 * XORs `data` in place with the 4-byte masking key (section 5.3). Masking and
 * unmasking are the same operation. From 2 KiB on it uses 128-bit
 * WebAssembly SIMD where the runtime allows it; otherwise it works a 32-bit
 * word at a time on the aligned middle of the buffer and a byte at a time at
 * its edges.
 *
 * @param data the bytes to mask or unmask, changed in place
 * @param key the 4-byte masking key
 * @param offset the position of `data[0]` within the frame's payload, when
 * masking a payload in pieces (the key repeats every 4 bytes)
 */
export function applyMask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  const length = data.length;
  const phase = offset & 3;
  const simd = simdMaskerFor(length);
  if (simd !== null) {
    simd(data, data, maskWordFrom(key, phase));
    return;
  }
  let index = 0;
  if (length >= WORD_MASK_THRESHOLD && LITTLE_ENDIAN) {
    // Bytes up to the first 4-byte aligned address.
    const misalignment = data.byteOffset & 3;
    const head = misalignment === 0 ? 0 : 4 - misalignment;
    for (; index < head; index++) data[index] ^= key[(phase + index) & 3];
    const words = (length - index) >>> 2;
    const wordView = new Uint32Array(
      data.buffer,
      data.byteOffset + index,
      words,
    );
    const maskWord = maskWordFrom(key, phase + index);
    for (let word = 0; word < words; word++) wordView[word] ^= maskWord;
    index += words * 4;
  }
  for (; index < length; index++) data[index] ^= key[(phase + index) & 3];
}

/**
 * Copies `source` into `target` (the same length) masked or unmasked with
 * the 4-byte key: what `target.set(source)` then {@linkcode applyMask} on
 * `target` do, in one pass over the bytes where WebAssembly SIMD is
 * available (from 2 KiB), which saves a copy.
 *
 * @param target where the masked bytes go
 * @param source the bytes to mask; left unchanged unless it is `target`
 * @param key the 4-byte masking key
 * @param offset the position of `source[0]` within the frame's payload
 * @throws {RangeError} when the lengths differ
 */
export function copyMasked(
  target: Uint8Array,
  source: Uint8Array,
  key: Uint8Array,
  offset = 0,
): void {
  if (target.length !== source.length) {
    throw new RangeError("copyMasked: target and source lengths differ");
  }
  const simd = simdMaskerFor(source.length);
  if (simd !== null) {
    simd(target, source, maskWordFrom(key, offset & 3));
    return;
  }
  target.set(source);
  applyMask(target, key, offset);
}

/**
 * The masking key an `EncodeOptions.mask` value stands for.
 *
 * @param mask `true` for a fresh random key, a 4-byte key to use it,
 * `false` for no mask
 * @returns the key, or null for an unmasked frame
 * @throws {RangeError} for a key that is not 4 bytes
 */
export function resolveMaskKey(mask: boolean | Uint8Array): Uint8Array | null {
  if (mask === true) return randomMaskKey();
  if (mask === false) return null;
  if (mask.length !== 4) throw new RangeError("a masking key is 4 bytes");
  return mask;
}
