/**
 * Chunked request bodies (RFC 9112 section 7.1) for fuzzing the body
 * decoder: valid bodies with hex sizes in any case and with leading zeros,
 * chunk extensions, trailer fields and the bytes of the next request after
 * them, and structural breaks (a wrong size, a missing CRLF, a bare LF, an
 * overlong size line or trailer section).
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { HttpError } from "../../errors.ts";
import { ChunkedBodyDecoder } from "../../http1/body.ts";
import { concat } from "./bytes.ts";
import { latin1 } from "./http_heads.ts";
import { DEFAULTS } from "../../defaults.ts";

/** One data chunk as written on the wire. */
export interface ChunkSpec {
  /** The chunk's data (never empty: an empty chunk ends the body). */
  data: Uint8Array;
  /** Leading zeros before the hex size. */
  zeros: number;
  /** Hex digits in upper case. */
  upper: boolean;
  /** Whitespace before the extensions (BWS). */
  space: string;
  /** Chunk extensions, from `;` on, or "". */
  extensions: string;
}

/** A whole chunked body. */
export interface ChunkedSpec {
  /** The data chunks. */
  chunks: ChunkSpec[];
  /** Zeros of the last chunk ("0", "000"). */
  lastZeros: number;
  /** Extensions of the last chunk. */
  lastExtensions: string;
  /** Trailer field lines, without their CRLF. */
  trailers: string[];
}

const extensionsArbitrary = fc.oneof(
  { weight: 3, arbitrary: fc.constant("") },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ";a",
      ";a=b",
      '; name="quoted; value"',
      ";x=1;y=2",
      ";\xe9=\xff",
    ),
  },
);

const chunkArbitrary: fc.Arbitrary<ChunkSpec> = fc.record({
  data: fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 3000 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("\r\n", "0\r\n\r\n", "\n").map(latin1),
    },
  ),
  zeros: fc.oneof(
    { weight: 5, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.nat(20) },
  ),
  upper: fc.boolean(),
  space: fc.constantFrom("", "", "", " ", "\t "),
  extensions: extensionsArbitrary,
});

/** A valid chunked body. */
export const chunkedArbitrary: fc.Arbitrary<ChunkedSpec> = fc.record({
  chunks: fc.array(chunkArbitrary, { maxLength: 6 }),
  lastZeros: fc.integer({ min: 1, max: 3 }),
  lastExtensions: extensionsArbitrary,
  trailers: fc.array(
    fc.constantFrom("Expires: 0", "X-Checksum: abc", "X:", "a: \xff\t"),
    { maxLength: 3 },
  ),
});

/** The body's data, joined. */
export function bodyData(spec: ChunkedSpec): Uint8Array {
  return concat(spec.chunks.map((chunk) => chunk.data));
}

/** The bytes of a chunked body. */
export function serializeChunked(spec: ChunkedSpec): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const chunk of spec.chunks) {
    let size = chunk.data.length.toString(16);
    if (chunk.upper) size = size.toUpperCase();
    parts.push(
      latin1(
        `${
          "0".repeat(chunk.zeros)
        }${size}${chunk.space}${chunk.extensions}\r\n`,
      ),
      chunk.data,
      latin1("\r\n"),
    );
  }
  let end = `${"0".repeat(spec.lastZeros)}${spec.lastExtensions}\r\n`;
  for (const trailer of spec.trailers) end += `${trailer}\r\n`;
  parts.push(latin1(end + "\r\n"));
  return concat(parts);
}

/** A break in the body's structure, applied to its text at a position. */
export const bodyBreakArbitrary: fc.Arbitrary<
  { at: number; text: string }
> = fc.record({
  at: fc.nat(),
  text: fc.oneof(
    fc.constantFrom(
      "\r",
      "\n",
      "\r\n",
      "\x00",
      "g",
      "-1",
      "0x10",
      "ffffffffffffffffff",
      ";",
      " ",
      "\x7f",
    ),
    fc.constantFrom(
      DEFAULTS.limits.maxChunkLineBytes,
      DEFAULTS.limits.maxTrailerBytes,
    ).map((size) => ";" + "e".repeat(size)),
  ),
});

/** How decoding a body ended. Data is only compared when it completed:
 * data yielded by a push that then failed is lost, differently per split. */
export type BodyOutcome =
  | { kind: "done"; data: Uint8Array; rest: Uint8Array }
  | { kind: "error"; status: number; message: string }
  | { kind: "incomplete"; data: Uint8Array };

/** Statuses the chunked decoder documents: malformed, too large, trailer
 * section too large. */
const BODY_STATUSES = new Set([400, 413, 431]);

/**
 * Decodes pieces with a fresh decoder, checking that it never yields more
 * than `maxBodyBytes`, that `received` counts what it yielded, and that
 * `done` and `rest` agree.
 */
export function decodeChunked(
  pieces: readonly Uint8Array[],
  maxBodyBytes: number,
): BodyOutcome {
  const decoder = new ChunkedBodyDecoder(maxBodyBytes);
  const data: Uint8Array[] = [];
  let length = 0;
  for (let index = 0; index < pieces.length; index++) {
    let progress;
    try {
      progress = decoder.push(pieces[index]);
    } catch (error) {
      assert.ok(error instanceof HttpError, `not an HttpError: ${error}`);
      assert.ok(BODY_STATUSES.has(error.status), `status ${error.status}`);
      return { kind: "error", status: error.status, message: error.message };
    }
    for (const part of progress.data) {
      data.push(part.slice());
      length += part.length;
    }
    assert.ok(length <= maxBodyBytes, `${length} bytes > ${maxBodyBytes}`);
    assert.equal(decoder.received, length);
    assert.equal(decoder.done, progress.rest !== null);
    if (progress.rest !== null) {
      return {
        kind: "done",
        data: concat(data),
        rest: concat([progress.rest, ...pieces.slice(index + 1)]),
      };
    }
  }
  return { kind: "incomplete", data: concat(data) };
}
