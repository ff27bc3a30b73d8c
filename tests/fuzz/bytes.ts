/**
 * Byte-stream helpers shared by the fuzz properties: joining, cutting a
 * stream into the pieces a network might deliver, and mutations that turn a
 * valid stream into a nearly valid one (the inputs that reach deep into a
 * parser, unlike random bytes that fail at their first byte).
 *
 * Every mutation is described by plain numbers that do not depend on the
 * stream's length (positions are taken modulo it), so fast-check can shrink
 * a failing case to a small one.
 *
 * @module
 */
import fc from "fast-check";
import { concatBytes } from "../../frame/bytes.ts";

/** Joins byte arrays into one new array. */
export const concat: (parts: readonly Uint8Array[]) => Uint8Array = concatBytes;

/**
 * Cuts `bytes` at the given positions (taken modulo its length + 1) into
 * owned copies, so a parser that takes ownership of its chunks (and
 * unmasks them in place) never changes the caller's stream.
 */
export function split(
  bytes: Uint8Array,
  cuts: readonly number[],
): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))]
    .sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(bytes.slice(start, point));
    start = point;
  }
  pieces.push(bytes.slice(start));
  return pieces;
}

/** Every byte on its own, as a peer trickling one byte per packet. */
export function bytewise(bytes: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) pieces.push(bytes.slice(i, i + 1));
  return pieces;
}

/** Cut points for {@linkcode split}: up to 16 positions anywhere. */
export const cutsArbitrary: fc.Arbitrary<number[]> = fc.array(fc.nat(), {
  maxLength: 16,
});

/** One edit of a byte stream. Positions are taken modulo the length. */
export type ByteMutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; value: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "duplicate"; at: number; length: number; to: number }
  | { kind: "truncate"; at: number };

/** Byte values that mean something to a frame or HTTP parser. */
const INTERESTING_BYTES = [
  0x00,
  0x01,
  0x02,
  0x08,
  0x09,
  0x0a,
  0x0d,
  0x20,
  0x3a,
  0x7e,
  0x7f,
  0x80,
  0x81,
  0x82,
  0x88,
  0x89,
  0x8a,
  0xc1,
  0xc2,
  0xe0,
  0xed,
  0xf0,
  0xf4,
  0xf5,
  0xfe,
  0xff,
];

const interestingByte = fc.oneof(
  fc.constantFrom(...INTERESTING_BYTES),
  fc.integer({ min: 0, max: 255 }),
);

/** One random {@linkcode ByteMutation}. */
export const byteMutationArbitrary: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({
    kind: fc.constant("set" as const),
    at: fc.nat(),
    value: interestingByte,
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.array(interestingByte, { minLength: 1, maxLength: 16 }).map(
      (values) => new Uint8Array(values),
    ),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 32 }),
  }),
  fc.record({
    kind: fc.constant("duplicate" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
    to: fc.nat(),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

/** Applies one mutation, returning a new array. */
export function mutateBytes(
  bytes: Uint8Array,
  mutation: ByteMutation,
): Uint8Array {
  const length = bytes.length;
  switch (mutation.kind) {
    case "flip": {
      if (length === 0) return bytes;
      const copy = bytes.slice();
      copy[mutation.at % length] ^= 1 << mutation.bit;
      return copy;
    }
    case "set": {
      if (length === 0) return bytes;
      const copy = bytes.slice();
      copy[mutation.at % length] = mutation.value;
      return copy;
    }
    case "insert": {
      const at = mutation.at % (length + 1);
      return concat([
        bytes.subarray(0, at),
        mutation.bytes,
        bytes.subarray(at),
      ]);
    }
    case "delete": {
      if (length === 0) return bytes;
      const at = mutation.at % length;
      return concat([
        bytes.subarray(0, at),
        bytes.subarray(at + mutation.length),
      ]);
    }
    case "duplicate": {
      if (length === 0) return bytes;
      const at = mutation.at % length;
      const range = bytes.slice(at, at + mutation.length);
      const to = mutation.to % (length + 1);
      return concat([bytes.subarray(0, to), range, bytes.subarray(to)]);
    }
    case "truncate":
      return bytes.slice(0, mutation.at % (length + 1));
  }
}

/** Applies mutations in order. */
export function mutateAll(
  bytes: Uint8Array,
  mutations: readonly ByteMutation[],
): Uint8Array {
  let mutated = bytes;
  for (const mutation of mutations) mutated = mutateBytes(mutated, mutation);
  return mutated;
}

/** Splices two streams: the start of `first` up to a point, then the rest
 * of `second` from a point (positions taken modulo the lengths). */
export function splice(
  first: Uint8Array,
  second: Uint8Array,
  firstEnd: number,
  secondStart: number,
): Uint8Array {
  return concat([
    first.subarray(0, firstEnd % (first.length + 1)),
    second.subarray(secondStart % (second.length + 1)),
  ]);
}
