/**
 * What the HTTP/1.1 request-head parser (`http1.ts`) and response-head parser
 * (`http1_response.ts`) share (RFC 9112 sections 2 and 5): splitting a head
 * into CRLF-terminated lines as its bytes arrive, under a byte limit;
 * parsing a field line; and the Latin-1 conversions between head bytes and
 * the `ByteString`s that `Headers` expects.
 *
 * Pure: no runtime-specific API. Every byte is looked at once, left to
 * right; no regular expression ever sees the peer's bytes.
 *
 * @module
 */

import { isFieldValueChar, isTokenChar } from "./header_grammar.ts";

/** The HTTP versions this library speaks. */
export type HttpVersion = "HTTP/1.0" | "HTTP/1.1";

/** A header line as `[name, value]`: the name as sent, the value without
 * surrounding whitespace. */
export type FieldLine = readonly [string, string];

/** How a parser built on {@linkcode HeadLineReader} turns a problem into its
 * own error. Both must throw. */
export interface HeadProblems {
  /** The head grew past `limit` bytes. */
  tooLarge(limit: number): never;
  /** The head is not well formed; `problem` says why. */
  malformed(problem: string): never;
}

/** Options of {@linkcode HeadLineReader}. */
export interface HeadLineReaderOptions {
  /** Refuse the head once it grows past this many bytes (CRLFs and empty
   * lines included). */
  maxHeadBytes: number;
  /** Called with each byte of the start line (the first line that is not
   * empty) as it arrives, CR and LF excepted; it throws to refuse the head
   * there, before the line is complete. */
  checkStartLineByte?: (byte: number) => void;
}

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** First size of the line buffer; it grows as needed, bounded by the head
 * limit. */
const INITIAL_LINE_CAPACITY = 256;

/**
 * Splits a message head into lines as its bytes arrive. Line endings must be
 * CRLF: a bare CR or LF is refused as soon as it is seen. Each byte is looked
 * at once, so a head trickling in byte by byte costs linear time.
 */
export class HeadLineReader {
  readonly #maxHeadBytes: number;
  readonly #checkStartLineByte: ((byte: number) => void) | undefined;
  readonly #problems: HeadProblems;
  #line: Uint8Array = new Uint8Array(INITIAL_LINE_CAPACITY);
  #lineLength = 0;
  #received = 0;
  #sawCR = false;
  #startLineDone = false;

  /**
   * Create a reader for one head.
   *
   * @param options the byte limit and the optional start-line check
   * @param problems how to throw the owning parser's errors
   */
  constructor(options: HeadLineReaderOptions, problems: HeadProblems) {
    this.#maxHeadBytes = options.maxHeadBytes;
    this.#checkStartLineByte = options.checkStartLineByte;
    this.#problems = problems;
  }

  /** How many bytes of this head have been consumed so far. */
  get bytesReceived(): number {
    return this.#received;
  }

  /**
   * Consume `chunk`, handing each complete line (without its CRLF) to
   * `endLine` until `endLine` returns the finished head.
   *
   * @param chunk the bytes that arrived
   * @param endLine parses one line; returns the head once a line ended it.
   * The line is a view that is only valid during the call.
   * @returns `undefined` while the head is incomplete, then the head and an
   * owned copy of the bytes after it
   */
  push<Head>(
    chunk: Uint8Array,
    endLine: (line: Uint8Array) => Head | undefined,
  ): { head: Head; rest: Uint8Array } | undefined {
    for (let i = 0; i < chunk.length; i++) {
      if (this.#received >= this.#maxHeadBytes) {
        this.#problems.tooLarge(this.#maxHeadBytes);
      }
      this.#received++;
      const byte = chunk[i];
      if (this.#sawCR) {
        this.#sawCR = false;
        if (byte !== LF) this.#problems.malformed("CR not followed by LF");
        const line = this.#line.subarray(0, this.#lineLength);
        this.#lineLength = 0;
        if (line.length > 0) this.#startLineDone = true;
        const head = endLine(line);
        if (head !== undefined) return { head, rest: chunk.slice(i + 1) };
      } else if (byte === CR) {
        this.#sawCR = true;
      } else if (byte === LF) {
        this.#problems.malformed("LF without CR");
      } else {
        if (!this.#startLineDone && this.#checkStartLineByte !== undefined) {
          this.#checkStartLineByte(byte);
        }
        this.#store(byte);
      }
    }
    return undefined;
  }

  #store(byte: number): void {
    if (this.#lineLength === this.#line.length) {
      const grown = new Uint8Array(this.#line.length * 2);
      grown.set(this.#line);
      this.#line = grown;
    }
    this.#line[this.#lineLength++] = byte;
  }
}

function isWhitespace(byte: number): boolean {
  return byte === SPACE || byte === HTAB;
}

/**
 * Parse one header line: `field-name ":" OWS field-value OWS` (RFC 9112
 * section 5). Obsolete line folding and whitespace before the colon are
 * refused; bytes above 0x7F in the value are kept (obs-text).
 *
 * @param line the line without its CRLF
 * @param malformed throws the caller's error for a malformed line
 * @returns the name as sent and the value without surrounding SP and HTAB
 */
export function parseFieldLine(
  line: Uint8Array,
  malformed: (problem: string) => never,
): FieldLine {
  if (isWhitespace(line[0])) {
    malformed("obsolete line folding is not accepted");
  }
  let colon = 0;
  while (colon < line.length && isTokenChar(line[colon])) colon++;
  if (colon === line.length || line[colon] !== COLON) {
    malformed(
      colon < line.length && isWhitespace(line[colon])
        ? "whitespace between a header name and its colon"
        : "a header line has no valid name followed by a colon",
    );
  }
  if (colon === 0) malformed("a header line has an empty name");
  const name = decodeLatin1(line, 0, colon);
  let valueStart = colon + 1;
  let valueEnd = line.length;
  while (valueStart < valueEnd && isWhitespace(line[valueStart])) valueStart++;
  while (valueEnd > valueStart && isWhitespace(line[valueEnd - 1])) valueEnd--;
  for (let i = valueStart; i < valueEnd; i++) {
    if (!isFieldValueChar(line[i])) {
      malformed(`the value of header "${name}" contains a control character`);
    }
  }
  return [name, decodeLatin1(line, valueStart, valueEnd)];
}

/**
 * Decode bytes one to one into the characters U+0000 to U+00FF.
 *
 * @param bytes the bytes
 * @param start the first byte to decode
 * @param end one past the last byte to decode
 * @returns a string with one character per byte
 */
export function decodeLatin1(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): string {
  let text = "";
  const step = 4096;
  for (let from = start; from < end; from += step) {
    const to = Math.min(end, from + step);
    text += String.fromCharCode.apply(
      null,
      bytes.subarray(from, to) as unknown as number[],
    );
  }
  return text;
}

/**
 * Encode a string of characters U+0000 to U+00FF one to one into bytes.
 *
 * @param text the string
 * @returns one byte per character
 * @throws {TypeError} when a character is above U+00FF.
 */
export function encodeLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) {
      throw new TypeError(`character U+${code.toString(16)} is not a byte`);
    }
    bytes[i] = code;
  }
  return bytes;
}
