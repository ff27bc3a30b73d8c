/**
 * A 128-bit SIMD masking loop in a tiny WebAssembly module, for large
 * payloads: JavaScript XORs at most 32 bits per step, WebAssembly SIMD 128,
 * so from about 2 KiB on, copying the bytes through the module's memory and
 * back is still faster than the word loop (docs/PERFORMANCE.md).
 *
 * The module is written out below instruction by instruction (148 bytes, no
 * toolchain, nothing downloaded). Runtimes that cannot compile WebAssembly
 * from bytes (some edge platforms forbid it) or lack SIMD get `null` from
 * {@linkcode createSimdMasker}, and the caller keeps its JavaScript loop.
 *
 * @module
 */

/** Bytes the module's memory holds: one 64 KiB WebAssembly page. */
export const SIMD_BLOCK_BYTES = 64 * 1024;

/** Bytes the SIMD loop handles per iteration (four 16-byte vectors). */
export const SIMD_STEP_BYTES = 64;

/**
 * Writes `source` XOR a 32-bit mask word (the key's bytes in little-endian
 * order, already rotated to `source[0]`'s position) to `target`, which has
 * the same length and may be `source` itself (masking in place).
 */
export type SimdMasker = (
  target: Uint8Array,
  source: Uint8Array,
  maskWord: number,
) => void;

/** Unsigned LEB128, the integer encoding of WebAssembly's binary format. */
function leb128(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function section(id: number, content: number[]): number[] {
  return [id, ...leb128(content.length), ...content];
}

function name(text: string): number[] {
  const bytes: number[] = [text.length];
  for (let index = 0; index < text.length; index++) {
    bytes.push(text.charCodeAt(index));
  }
  return bytes;
}

// deno-fmt-ignore-start
// Opcodes used below (WebAssembly core spec 1.0 plus the SIMD proposal).
const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41;
const I32_GE_U = 0x4f, I32_ADD = 0x6a, VOID = 0x40;
const SIMD = 0xfd, V128_LOAD = 0x00, V128_STORE = 0x0b;
const I32X4_SPLAT = 0x11, V128_XOR = 0x51;
const I32 = 0x7f, V128 = 0x7b, FUNC = 0x60;
// deno-fmt-ignore-end
/** Memory immediate: alignment 2^4 = 16 bytes, then the constant offset. */
const aligned16 = (offset: number) => [0x04, ...leb128(offset)];

/** `mask(start, end, word)`: XOR bytes [start, end) of memory, in 64-byte steps. */
function maskFunctionBody(): number[] {
  const [start, end, word, vector] = [0, 1, 2, 3];
  // deno-fmt-ignore
  const xorOneVector = (offset: number) => [
    LOCAL_GET, start, // the address to store to
    LOCAL_GET, start, SIMD, V128_LOAD, ...aligned16(offset),
    LOCAL_GET, vector, SIMD, V128_XOR,
    SIMD, V128_STORE, ...aligned16(offset),
  ];
  // deno-fmt-ignore
  const code = [
    LOCAL_GET, word, SIMD, I32X4_SPLAT, LOCAL_SET, vector, // vector = word x 4
    BLOCK, VOID,
    LOOP, VOID,
    LOCAL_GET, start, LOCAL_GET, end, I32_GE_U, BR_IF, 1, // done: leave the block
    ...xorOneVector(0),
    ...xorOneVector(16),
    ...xorOneVector(32),
    ...xorOneVector(48),
    LOCAL_GET, start, I32_CONST, 0xc0, 0x00, I32_ADD, LOCAL_SET, start, // start += 64 (signed LEB128)
    BR, 0, // the next step
    END, // loop
    END, // block
    END, // function
  ];
  const locals = [1, 1, V128]; // one group: one v128 local
  return [...locals, ...code];
}

/** The whole module: one function `mask`, one exported page of memory. */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const body = maskFunctionBody();
  // deno-fmt-ignore
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, // "\0asm"
    0x01, 0x00, 0x00, 0x00, // version 1
    ...section(1, [1, FUNC, 3, I32, I32, I32, 0]), // type 0: (i32, i32, i32) -> ()
    ...section(3, [1, 0]), // one function, of type 0
    ...section(5, [1, 0x00, 1]), // one memory: 1 page, no maximum
    ...section(7, [2, ...name("memory"), 0x02, 0, ...name("mask"), 0x00, 0]), // exports
    ...section(10, [1, ...leb128(body.length), ...body]), // code
  ]);
}

/** The module's `mask(start, end, word)` export. */
type MaskFunction = (start: number, end: number, word: number) => void;

/** The compiled module; `undefined` until first needed, `null` if unavailable. */
let compiledModule: WebAssembly.Module | null | undefined;

/**
 * A fresh instance of the masking module whose memory holds at least
 * `bytes`, or `null` where WebAssembly or its SIMD instructions are not
 * available (or compiling from bytes is forbidden).
 */
function instantiate(
  bytes: number,
): { mask: MaskFunction; memory: Uint8Array } | null {
  try {
    if (compiledModule === undefined) {
      compiledModule = null;
      if (typeof WebAssembly !== "object") return null;
      const code = moduleBytes();
      if (!WebAssembly.validate(code)) return null;
      compiledModule = new WebAssembly.Module(code);
    }
    if (compiledModule === null) return null;
    const exports = new WebAssembly.Instance(compiledModule).exports as {
      memory: WebAssembly.Memory;
      mask: MaskFunction;
    };
    const pages = Math.ceil(bytes / SIMD_BLOCK_BYTES);
    if (pages > 1) exports.memory.grow(pages - 1);
    return {
      mask: exports.mask,
      memory: new Uint8Array(exports.memory.buffer),
    };
  } catch {
    return null;
  }
}

/**
 * Bytes of WebAssembly memory that JavaScript copies into and reads from,
 * with the SIMD loop to unmask them in place.
 */
export interface SimdStage {
  /** The memory, `bytes` long or longer; it never moves nor grows. */
  readonly memory: Uint8Array;
  /**
   * XORs `memory[start, start + length)` in place with a 32-bit mask word
   * (the key rotated to `memory[start]`'s position), `length` a multiple of
   * 64.
   */
  readonly mask: (start: number, length: number, maskWord: number) => void;
}

/**
 * A region of WebAssembly memory of its own with the SIMD unmasking loop,
 * for gathering a payload and unmasking it where it lands.
 *
 * @param bytes how many bytes the region must hold
 * @returns the region, or `null` where WebAssembly SIMD is not available
 */
export function createSimdStage(bytes: number): SimdStage | null {
  const instance = instantiate(bytes);
  if (instance === null) return null;
  const { mask, memory } = instance;
  return {
    memory,
    mask: (start, length, maskWord) => mask(start, start + length, maskWord),
  };
}

/**
 * Compiles the SIMD masking module, or returns `null` where WebAssembly or
 * its SIMD instructions are not available.
 *
 * @returns a masker for any length (it works through the module's memory a
 * {@linkcode SIMD_BLOCK_BYTES} block at a time), or `null`
 */
export function createSimdMasker(): SimdMasker | null {
  const instance = instantiate(SIMD_BLOCK_BYTES);
  if (instance === null) return null;
  const { mask, memory } = instance;
  return (target, source, maskWord) => {
    const length = source.length;
    for (let start = 0; start < length; start += SIMD_BLOCK_BYTES) {
      const end = Math.min(start + SIMD_BLOCK_BYTES, length);
      const vectorBytes = (end - start) & ~(SIMD_STEP_BYTES - 1);
      memory.set(source.subarray(start, start + vectorBytes));
      mask(0, vectorBytes, maskWord);
      target.set(memory.subarray(0, vectorBytes), start);
      // The last bytes of the block: the word's bytes in turn (every block
      // and step starts at a multiple of 4, so the phase is unchanged).
      for (let index = start + vectorBytes; index < end; index++) {
        target[index] = source[index] ^
          ((maskWord >>> ((index & 3) * 8)) & 0xff);
      }
    }
  };
}
