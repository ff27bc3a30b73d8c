/**
 * Request body framing for HTTP/1.1 (RFC 9112 section 6): which framing a
 * request uses, incremental decoders for `Content-Length` and
 * `Transfer-Encoding: chunked` bodies, and the chunked encoding of response
 * bodies.
 *
 * Pure: no runtime-specific API. Every decoder is a linear scan that never
 * looks at a byte twice.
 *
 * @module
 */

import { isFieldValueChar, trimOptionalWhitespace } from "./header_grammar.ts";
import { HttpError } from "../errors.ts";
import { headerValues, type RequestHead } from "./request.ts";
import { DEFAULTS } from "../defaults.ts";

/** How a request body is delimited. */
export type BodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

const MAX_LENGTH_DIGITS = 15; // stays below Number.MAX_SAFE_INTEGER

/**
 * Decide how the body of `head` is framed (RFC 9112 section 6.3), refusing
 * every ambiguous message so that a proxy in front of this server cannot be
 * made to disagree about where the request ends (request smuggling):
 *
 * - `Transfer-Encoding` together with `Content-Length`: 400.
 * - `Transfer-Encoding` in an HTTP/1.0 request: 400.
 * - `Transfer-Encoding` whose last coding is not `chunked`, or that lists
 *   `chunked` twice: 400; any coding other than `chunked`: 501.
 * - `Content-Length` that is not all digits, or several that differ: 400
 *   (identical repeats, in several lines or one comma-separated line, are
 *   accepted as RFC 9110 section 8.6 allows).
 * - `Content-Length` above `maxBodyBytes`: 413.
 *
 * @throws {HttpError} as listed above
 */
export function requestBodyFraming(
  head: RequestHead,
  maxBodyBytes: number = DEFAULTS.limits.maxBodyBytes,
): BodyFraming {
  const transferEncodings = headerValues(head, "transfer-encoding");
  const contentLengths = headerValues(head, "content-length");
  if (transferEncodings.length > 0) {
    if (contentLengths.length > 0) {
      throw new HttpError(
        400,
        "request has both Transfer-Encoding and Content-Length",
      );
    }
    if (head.version === "HTTP/1.0") {
      throw new HttpError(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    checkTransferCodings(transferEncodings);
    return { kind: "chunked" };
  }
  if (contentLengths.length === 0) return { kind: "none" };
  const length = parseContentLength(contentLengths);
  if (length > maxBodyBytes) {
    throw new HttpError(
      413,
      `request body of ${length} bytes exceeds the limit of ${maxBodyBytes}`,
    );
  }
  return length === 0 ? { kind: "none" } : { kind: "length", length };
}

function checkTransferCodings(values: readonly string[]): void {
  const codings: string[] = [];
  for (const value of values) {
    for (const element of value.split(",")) {
      const coding = trimOptionalWhitespace(element).toLowerCase();
      if (coding !== "") codings.push(coding);
    }
  }
  for (let i = 0; i < codings.length; i++) {
    const isLast = i === codings.length - 1;
    if (codings[i] === "chunked" && !isLast) {
      throw new HttpError(400, "chunked is not the final transfer coding");
    }
    if (codings[i] !== "chunked") {
      throw new HttpError(
        isLast ? 400 : 501,
        isLast
          ? "the final transfer coding is not chunked"
          : `transfer coding ${JSON.stringify(codings[i])} is not supported`,
      );
    }
  }
  if (codings.length === 0) throw new HttpError(400, "empty Transfer-Encoding");
}

function parseContentLength(values: readonly string[]): number {
  let length = -1;
  for (const value of values) {
    for (const element of value.split(",")) {
      const text = trimOptionalWhitespace(element);
      if (text.length === 0 || text.length > MAX_LENGTH_DIGITS) {
        throw new HttpError(
          400,
          `invalid Content-Length ${JSON.stringify(value)}`,
        );
      }
      let parsed = 0;
      for (let i = 0; i < text.length; i++) {
        const digit = text.charCodeAt(i) - 0x30;
        if (digit < 0 || digit > 9) {
          throw new HttpError(
            400,
            `invalid Content-Length ${JSON.stringify(value)}`,
          );
        }
        parsed = parsed * 10 + digit;
      }
      if (length !== -1 && parsed !== length) {
        throw new HttpError(400, "conflicting Content-Length values");
      }
      length = parsed;
    }
  }
  return length;
}

/** What one chunk of input produced. */
export interface BodyProgress {
  /** Body data found in the chunk: views into it, valid until it is reused. */
  readonly data: Uint8Array[];
  /** `null` while the body continues; once it ended, the bytes after it
   * (a view into the chunk, possibly empty: the next pipelined request). */
  readonly rest: Uint8Array | null;
}

/** An incremental body decoder. */
export interface BodyDecoder {
  /** Consume the next bytes of the connection. Must not be called once
   * `done`. @throws {HttpError} on malformed or oversized input */
  push(chunk: Uint8Array): BodyProgress;
  /** Whether the whole body has been consumed. */
  readonly done: boolean;
  /** How many body bytes have been decoded so far. */
  readonly received: number;
}

/** Decodes a body of known `Content-Length`. */
export class LengthBodyDecoder implements BodyDecoder {
  #remaining: number;
  #received = 0;

  /**
   * Create a decoder for a body of `length` bytes.
   *
   * @param length the Content-Length
   */
  constructor(length: number) {
    this.#remaining = length;
  }

  /** Whether all `length` bytes have been consumed. */
  get done(): boolean {
    return this.#remaining === 0;
  }

  /** How many body bytes have been consumed. */
  get received(): number {
    return this.#received;
  }

  /** How many body bytes are still expected. */
  get remaining(): number {
    return this.#remaining;
  }

  /** Take up to the remaining length from `chunk`. */
  push(chunk: Uint8Array): BodyProgress {
    const taken = Math.min(this.#remaining, chunk.length);
    this.#remaining -= taken;
    this.#received += taken;
    const data = taken > 0 ? [chunk.subarray(0, taken)] : [];
    return { data, rest: this.#remaining === 0 ? chunk.subarray(taken) : null };
  }
}

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const HTAB = 0x09;
const SEMICOLON = 0x3b;

const ChunkState = {
  Size: 0,
  AfterSize: 1,
  Extension: 2,
  SizeLF: 3,
  Data: 4,
  DataCR: 5,
  DataLF: 6,
  TrailerLineStart: 7,
  TrailerLine: 8,
  TrailerLF: 9,
  FinalLF: 10,
  Done: 11,
} as const;
type ChunkState = (typeof ChunkState)[keyof typeof ChunkState];

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
}

/**
 * Decodes `Transfer-Encoding: chunked` (RFC 9112 section 7.1) one byte of
 * framing at a time, so any split of the input decodes the same. Chunk
 * extensions and trailer fields are skipped. Line endings must be CRLF.
 * Limits: `DEFAULTS.limits.maxChunkLineBytes` per size line (400),
 * `DEFAULTS.limits.maxTrailerBytes` of trailers (431) and `maxBodyBytes` of
 * data (413, raised as soon as a chunk size would pass it).
 */
export class ChunkedBodyDecoder implements BodyDecoder {
  readonly #maxBodyBytes: number;
  #state: ChunkState = ChunkState.Size;
  #chunkSize = 0;
  #sizeDigits = 0;
  #lineLength = 0;
  #remaining = 0;
  #received = 0;
  #trailerBytes = 0;

  /**
   * Create a decoder for one chunked body.
   *
   * @param maxBodyBytes limit on the decoded body; default DEFAULTS.limits.maxBodyBytes
   */
  constructor(maxBodyBytes: number = DEFAULTS.limits.maxBodyBytes) {
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** Whether the last chunk and the trailer section have been consumed. */
  get done(): boolean {
    return this.#state === ChunkState.Done;
  }

  /** How many data bytes have been decoded so far. */
  get received(): number {
    return this.#received;
  }

  /** Decode the next bytes. */
  push(chunk: Uint8Array): BodyProgress {
    if (this.#state === ChunkState.Done) {
      throw new Error("ChunkedBodyDecoder already done");
    }
    const data: Uint8Array[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === ChunkState.Data) {
        const taken = Math.min(this.#remaining, chunk.length - i);
        data.push(chunk.subarray(i, i + taken));
        this.#remaining -= taken;
        this.#received += taken;
        i += taken;
        if (this.#remaining === 0) this.#state = ChunkState.DataCR;
        continue;
      }
      this.#step(chunk[i]);
      i++;
      if (this.done) {
        return { data, rest: chunk.subarray(i) };
      }
    }
    return { data, rest: null };
  }

  #fail(problem: string): never {
    throw new HttpError(400, `malformed chunked body: ${problem}`);
  }

  #countSizeLineByte(): void {
    this.#lineLength++;
    if (this.#lineLength > DEFAULTS.limits.maxChunkLineBytes) {
      this.#fail(
        `chunk size line longer than ${DEFAULTS.limits.maxChunkLineBytes} bytes`,
      );
    }
  }

  #step(byte: number): void {
    switch (this.#state) {
      case ChunkState.Size: {
        const digit = hexValue(byte);
        if (digit >= 0) {
          this.#countSizeLineByte();
          this.#chunkSize = this.#chunkSize * 16 + digit;
          this.#sizeDigits++;
          if (this.#received + this.#chunkSize > this.#maxBodyBytes) {
            throw new HttpError(
              413,
              `chunked request body exceeds ${this.#maxBodyBytes} bytes`,
            );
          }
          return;
        }
        if (this.#sizeDigits === 0) this.#fail("expected a hex chunk size");
        this.#state = ChunkState.AfterSize;
        this.#step(byte);
        return;
      }
      case ChunkState.AfterSize:
        if (byte === CR) {
          this.#state = ChunkState.SizeLF;
        } else if (byte === SEMICOLON) {
          this.#countSizeLineByte();
          this.#state = ChunkState.Extension;
        } else if (byte === SPACE || byte === HTAB) {
          this.#countSizeLineByte();
        } else {
          this.#fail("invalid character after chunk size");
        }
        return;
      case ChunkState.Extension:
        if (byte === CR) {
          this.#state = ChunkState.SizeLF;
        } else if (isFieldValueChar(byte)) {
          this.#countSizeLineByte();
        } else {
          this.#fail("invalid character in chunk extension");
        }
        return;
      case ChunkState.SizeLF:
        if (byte !== LF) this.#fail("CR not followed by LF after chunk size");
        if (this.#chunkSize === 0) {
          this.#state = ChunkState.TrailerLineStart;
        } else {
          this.#remaining = this.#chunkSize;
          this.#state = ChunkState.Data;
        }
        this.#chunkSize = 0;
        this.#sizeDigits = 0;
        this.#lineLength = 0;
        return;
      case ChunkState.DataCR:
        if (byte !== CR) this.#fail("chunk data not followed by CRLF");
        this.#state = ChunkState.DataLF;
        return;
      case ChunkState.DataLF:
        if (byte !== LF) this.#fail("chunk data not followed by CRLF");
        this.#state = ChunkState.Size;
        return;
      case ChunkState.TrailerLineStart:
      case ChunkState.TrailerLine:
        this.#countTrailerByte();
        if (byte === CR) {
          this.#state = this.#state === ChunkState.TrailerLineStart
            ? ChunkState.FinalLF
            : ChunkState.TrailerLF;
        } else if (isFieldValueChar(byte)) {
          this.#state = ChunkState.TrailerLine;
        } else {
          this.#fail("invalid character in trailer section");
        }
        return;
      case ChunkState.TrailerLF:
      case ChunkState.FinalLF:
        this.#countTrailerByte();
        if (byte !== LF) this.#fail("CR not followed by LF in trailer section");
        this.#state = this.#state === ChunkState.FinalLF
          ? ChunkState.Done
          : ChunkState.TrailerLineStart;
        return;
      default:
        throw new Error(`unexpected state ${this.#state}`);
    }
  }

  #countTrailerByte(): void {
    this.#trailerBytes++;
    if (this.#trailerBytes > DEFAULTS.limits.maxTrailerBytes) {
      throw new HttpError(
        431,
        `trailer section exceeds ${DEFAULTS.limits.maxTrailerBytes} bytes`,
      );
    }
  }
}

/** The decoder for `framing`; `null` when the request has no body. */
export function createBodyDecoder(
  framing: BodyFraming,
  maxBodyBytes: number = DEFAULTS.limits.maxBodyBytes,
): BodyDecoder | null {
  switch (framing.kind) {
    case "none":
      return null;
    case "length":
      return new LengthBodyDecoder(framing.length);
    case "chunked":
      return new ChunkedBodyDecoder(maxBodyBytes);
  }
}

const CRLF = new Uint8Array([CR, LF]);

/** Encode `data` as one chunk of a chunked response body: size in hex,
 * CRLF, data, CRLF. An empty `data` would end the body, so it gives an
 * empty array instead. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const sizeLine = data.length.toString(16);
  const encoded = new Uint8Array(sizeLine.length + 2 + data.length + 2);
  for (let i = 0; i < sizeLine.length; i++) {
    encoded[i] = sizeLine.charCodeAt(i);
  }
  encoded.set(CRLF, sizeLine.length);
  encoded.set(data, sizeLine.length + 2);
  encoded.set(CRLF, sizeLine.length + 2 + data.length);
  return encoded;
}

/** The last chunk and empty trailer section that end a chunked body. */
export const LAST_CHUNK: Uint8Array = new Uint8Array([
  0x30,
  CR,
  LF,
  CR,
  LF,
]);
