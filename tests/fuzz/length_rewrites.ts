/**
 * Rewriting the length fields of an encoded stream to edge values (125,
 * 126, 127, 65535, 65536, 2^53, 2^63, 2^64 - 1, ...) in minimal and
 * non-minimal encodings, while the payloads stay as they were.
 *
 * @module
 */
import fc from "fast-check";
import { concat } from "./bytes.ts";
import type { EncodedStream } from "./ws_streams.ts";

/** Length values at every edge a frame decoder handles. */
export const BOUNDARY_LENGTHS: readonly bigint[] = [
  0n,
  1n,
  125n,
  126n,
  127n,
  128n,
  200n,
  1023n,
  1024n,
  1025n,
  65535n,
  65536n,
  70_001n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

/** A rewrite of one frame's length field. `minimal` uses the shortest
 * encoding, `16`/`64` force an extended field (non-minimal for small
 * values), `raw` only sets the 7-bit code (126/127 then claim extended
 * bytes that are not there). */
export interface LengthRewrite {
  /** Which frame (modulo the number of frames). */
  frame: number;
  /** The new length. */
  value: bigint;
  /** How it is encoded. */
  encoding: "minimal" | "16" | "64" | "raw";
}

/** One {@linkcode LengthRewrite}. */
export const lengthRewriteArbitrary: fc.Arbitrary<LengthRewrite> = fc.record({
  frame: fc.nat(),
  value: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...BOUNDARY_LENGTHS) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
  ),
  encoding: fc.constantFrom<LengthRewrite["encoding"]>(
    "minimal",
    "minimal",
    "16",
    "64",
    "raw",
  ),
});

function lengthField(value: bigint, encoding: LengthRewrite["encoding"]): {
  code: number;
  extended: number[];
} {
  const wrapped = value & (2n ** 64n - 1n);
  if (encoding === "raw") {
    return { code: Number(wrapped & 0x7fn), extended: [] };
  }
  if (encoding === "minimal" && wrapped <= 125n) {
    return { code: Number(wrapped), extended: [] };
  }
  if (encoding !== "64" && wrapped <= 0xffffn) {
    const number = Number(wrapped);
    return { code: 126, extended: [number >>> 8, number & 0xff] };
  }
  const extended: number[] = [];
  for (let shift = 56n; shift >= 0n; shift -= 8n) {
    extended.push(Number((wrapped >> shift) & 0xffn));
  }
  return { code: 127, extended };
}

/** Rewrites frame length fields of a valid stream (the payloads stay, so
 * the length and the bytes that follow disagree). */
export function rewriteLengths(
  stream: EncodedStream,
  rewrites: readonly LengthRewrite[],
): Uint8Array {
  if (stream.frameStarts.length === 0) return stream.bytes;
  const count = stream.frameStarts.length;
  // Later frames first, so earlier frame offsets stay valid.
  const ordered = [...rewrites].sort((a, b) =>
    (b.frame % count) - (a.frame % count)
  );
  let bytes = stream.bytes;
  const done = new Set<number>();
  for (const rewrite of ordered) {
    const index = rewrite.frame % count;
    if (done.has(index)) continue;
    done.add(index);
    const start = stream.frameStarts[index];
    const second = bytes[start + 1];
    const code = second & 0x7f;
    const oldExtended = code === 126 ? 2 : code === 127 ? 8 : 0;
    const masked = (second & 0x80) !== 0;
    const keyStart = start + 2 + oldExtended;
    const key = masked
      ? bytes.slice(keyStart, keyStart + 4)
      : new Uint8Array(0);
    const field = lengthField(rewrite.value, rewrite.encoding);
    const header = concat([
      new Uint8Array([bytes[start], (second & 0x80) | field.code]),
      new Uint8Array(field.extended),
      key,
    ]);
    bytes = concat([
      bytes.subarray(0, start),
      header,
      bytes.subarray(keyStart + key.length),
    ]);
  }
  return bytes;
}
