/**
 * An incremental HTTP/1.1 response-head parser (RFC 9112 sections 4 and 5),
 * for a client reading the answer to its opening handshake. Only the head is
 * parsed: a WebSocket handshake answer has no body the client reads, and the
 * bytes after the head are the start of the WebSocket stream.
 *
 * Pure: no runtime-specific API. Every line is scanned left to right once;
 * no regular expression ever sees the server's bytes.
 *
 * @module
 */

import { HandshakeError } from "./errors.ts";
import {
  decodeLatin1,
  type HttpVersion,
  isFieldValue,
  isTokenCode,
} from "./http1.ts";

export type { HttpVersion } from "./http1.ts";

/** Default limit on the size of a response head in bytes: the status line,
 * every header line and the empty line that ends the head, CRLFs included.
 * Default 16 KiB. */
export const MAX_RESPONSE_HEAD_BYTES: number = 16 * 1024;

/** Default limit on the number of header lines in a response head.
 * Default 100. */
export const MAX_RESPONSE_HEADER_COUNT: number = 100;

/** A parsed response head. Header names keep the case they were sent in;
 * values are trimmed of surrounding whitespace; bytes above 0x7F are kept as
 * the characters U+0080 to U+00FF (a `ByteString`, as `Headers` expects). */
export interface ResponseHead {
  /** The protocol version from the status line. */
  readonly version: HttpVersion;
  /** The status code, 100 to 599. */
  readonly status: number;
  /** The reason phrase as sent, possibly empty. */
  readonly reason: string;
  /** Header lines in the order sent, as `[name, value]`. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** A completed head and the bytes that followed it in the last chunk. */
export interface ParsedResponseHead {
  /** The parsed response head. */
  readonly head: ResponseHead;
  /** Bytes after the head's final CRLF; an owned copy, possibly empty. */
  readonly rest: Uint8Array;
}

/** Limits for {@linkcode ResponseHeadParser}. */
export interface ResponseHeadParserOptions {
  /** Maximum head size in bytes; default {@linkcode MAX_RESPONSE_HEAD_BYTES}. */
  maxHeadBytes?: number;
  /** Maximum number of header lines; default
   * {@linkcode MAX_RESPONSE_HEADER_COUNT}. */
  maxHeaderCount?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const DIGIT_ZERO = 0x30;

/** First size of the line buffer; it grows as needed, bounded by the head
 * limit. */
const INITIAL_LINE_CAPACITY = 256;

/**
 * An incremental response-head parser. Feed it bytes as they arrive with
 * {@linkcode ResponseHeadParser.push}; it returns the head once the empty
 * line that ends it has arrived. Each line is checked as soon as it is
 * complete, so a peer that is not an HTTP server is refused at its first
 * line. Line endings must be CRLF (a bare CR or LF is refused); obsolete
 * line folding is refused.
 *
 * Errors are {@linkcode HandshakeError}s, since the only use is a WebSocket
 * client: `status` is the response's status once the status line was read,
 * and 0 before that (including a status line that is not valid).
 */
export class ResponseHeadParser {
  readonly #maxHeadBytes: number;
  readonly #maxHeaderCount: number;
  #line: Uint8Array = new Uint8Array(INITIAL_LINE_CAPACITY);
  #lineLength = 0;
  #received = 0;
  #sawCR = false;
  #finished = false;
  #statusLine: Omit<ResponseHead, "headers"> | undefined;
  #headers: Array<readonly [string, string]> = [];

  /**
   * Create a parser for one response head.
   *
   * @param options limits; the defaults are the exported constants
   */
  constructor(options: ResponseHeadParserOptions = {}) {
    this.#maxHeadBytes = options.maxHeadBytes ?? MAX_RESPONSE_HEAD_BYTES;
    this.#maxHeaderCount = options.maxHeaderCount ?? MAX_RESPONSE_HEADER_COUNT;
  }

  /** How many bytes of this head have been consumed so far. */
  get bytesReceived(): number {
    return this.#received;
  }

  /**
   * Consume the next chunk.
   *
   * @param chunk the bytes that arrived
   * @returns `undefined` while the head is incomplete, then the head and the
   * bytes after it. The parser must not be fed again after that or after it
   * threw.
   * @throws {HandshakeError} when the head is malformed, longer than the
   * byte limit or has more header lines than allowed.
   */
  push(chunk: Uint8Array): ParsedResponseHead | undefined {
    if (this.#finished) throw new Error("ResponseHeadParser already finished");
    for (let i = 0; i < chunk.length; i++) {
      if (this.#received >= this.#maxHeadBytes) {
        this.#fail(`the response head exceeds ${this.#maxHeadBytes} bytes`);
      }
      this.#received++;
      const byte = chunk[i];
      if (this.#sawCR) {
        this.#sawCR = false;
        if (byte !== LF) this.#fail("CR not followed by LF");
        const head = this.#endLine();
        if (head !== undefined) {
          this.#finished = true;
          return { head, rest: chunk.slice(i + 1) };
        }
      } else if (byte === CR) {
        this.#sawCR = true;
      } else if (byte === LF) {
        this.#fail("LF without CR");
      } else {
        this.#store(byte);
      }
    }
    return undefined;
  }

  /** A line ended: parse it; the empty line after the status line ends the
   * head. */
  #endLine(): ResponseHead | undefined {
    const line = this.#line.subarray(0, this.#lineLength);
    this.#lineLength = 0;
    if (this.#statusLine === undefined) {
      this.#statusLine = this.#parseStatusLine(line);
      return undefined;
    }
    if (line.length === 0) {
      return { ...this.#statusLine, headers: this.#headers };
    }
    if (this.#headers.length === this.#maxHeaderCount) {
      this.#fail(`the response has more than ${this.#maxHeaderCount} headers`);
    }
    this.#headers.push(this.#parseHeaderLine(line));
    return undefined;
  }

  /** status-line = HTTP-version SP status-code SP [ reason-phrase ].
   * A status line that ends right after the code is accepted too. */
  #parseStatusLine(line: Uint8Array): Omit<ResponseHead, "headers"> {
    const version = parseVersion(line);
    if (version === undefined) {
      this.#fail(
        `the status line does not start with HTTP/1.0 or HTTP/1.1: ${
          JSON.stringify(decodeLatin1(line, 0, Math.min(line.length, 64)))
        }`,
      );
    }
    let status = 0;
    for (let i = 9; i < 12; i++) {
      const digit = line[i] - DIGIT_ZERO;
      if (!(digit >= 0 && digit <= 9)) status = -1;
      if (status >= 0) status = status * 10 + digit;
    }
    if (line[8] !== SPACE || status < 100 || status > 599) {
      this.#fail("the status line has no status code from 100 to 599");
    }
    if (line.length > 12 && line[12] !== SPACE) {
      this.#fail("the status code is not followed by a space");
    }
    const reason = line.length > 13 ? decodeLatin1(line, 13) : "";
    if (!isFieldValue(reason)) {
      this.#fail("the reason phrase contains a control character");
    }
    return { version, status, reason };
  }

  /** field-line = field-name ":" OWS field-value OWS */
  #parseHeaderLine(line: Uint8Array): readonly [string, string] {
    if (line[0] === SPACE || line[0] === HTAB) {
      this.#fail("obsolete line folding is not accepted");
    }
    let colon = 0;
    while (colon < line.length && isTokenCode(line[colon])) colon++;
    if (colon === line.length || line[colon] !== COLON) {
      this.#fail(
        colon < line.length && (line[colon] === SPACE || line[colon] === HTAB)
          ? "whitespace between a header name and its colon"
          : "a header line has no valid name followed by a colon",
      );
    }
    if (colon === 0) this.#fail("a header line has an empty name");
    const name = decodeLatin1(line, 0, colon);
    let valueStart = colon + 1;
    let valueEnd = line.length;
    while (valueStart < valueEnd && isWhitespace(line[valueStart])) {
      valueStart++;
    }
    while (valueEnd > valueStart && isWhitespace(line[valueEnd - 1])) {
      valueEnd--;
    }
    const value = decodeLatin1(line, valueStart, valueEnd);
    if (!isFieldValue(value)) {
      this.#fail(`the value of header "${name}" contains a control character`);
    }
    return [name, value];
  }

  #fail(problem: string): never {
    this.#finished = true;
    throw new HandshakeError(
      this.#statusLine?.status ?? 0,
      `malformed handshake response: ${problem}`,
    );
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

/** "HTTP/1.1" or "HTTP/1.0" at the start of `line`, else undefined. */
function parseVersion(line: Uint8Array): HttpVersion | undefined {
  const expected = "HTTP/1.";
  if (line.length < expected.length + 1) return undefined;
  for (let i = 0; i < expected.length; i++) {
    if (line[i] !== expected.charCodeAt(i)) return undefined;
  }
  const minor = line[expected.length];
  if (minor === 0x31) return "HTTP/1.1";
  if (minor === DIGIT_ZERO) return "HTTP/1.0";
  return undefined;
}

/**
 * The head's header lines as a `Headers` object (repeated names are joined
 * with ", " by `Headers.get`, as HTTP allows for list-valued headers).
 *
 * @param head a parsed head
 * @returns the headers
 */
export function responseHeaders(head: ResponseHead): Headers {
  const headers = new Headers();
  for (const [name, value] of head.headers) headers.append(name, value);
  return headers;
}
