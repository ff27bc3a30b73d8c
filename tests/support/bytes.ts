/**
 * Byte helpers shared by the tests: joining byte arrays and building the
 * masked frames a client sends. Pure (no Deno APIs), so the files that use
 * it run under both `deno test` and `bun test`.
 *
 * @module
 */

import { concatBytes } from "../../frame/bytes.ts";
import { encodeFrame } from "../../frame/encoder.ts";
import type { Opcode } from "../../frame/types.ts";

/** One shared UTF-8 encoder. */
export const encoder: TextEncoder = new TextEncoder();
/** One shared UTF-8 decoder (replaces invalid bytes, never throws). */
export const decoder: TextDecoder = new TextDecoder();

/** Joins byte arrays into one new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

/** A masked frame (random key), as a client sends it; text is UTF-8 encoded. */
export function maskedFrame(
  opcode: Opcode,
  payload: Uint8Array | string = new Uint8Array(0),
  fin = true,
): Uint8Array {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  return encodeFrame(opcode, bytes, { fin, mask: true });
}
