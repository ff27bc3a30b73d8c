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

import { HandshakeError } from "../errors.ts";
import { isFieldValue } from "./header_grammar.ts";
import {
  decodeLatin1,
  type FieldLine,
  HeadLineReader,
  type HttpVersion,
  parseFieldLine,
} from "./head.ts";
import { DEFAULTS } from "../defaults.ts";

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
  readonly headers: ReadonlyArray<FieldLine>;
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
  /** Maximum head size in bytes; default `DEFAULTS.limits.maxResponseHeadBytes`. */
  maxHeadBytes?: number;
  /** Maximum number of header lines; default
   * `DEFAULTS.limits.maxResponseHeaderCount`. */
  maxHeaderCount?: number;
}

const SPACE = 0x20;
const DIGIT_ZERO = 0x30;

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
  readonly #maxHeaderCount: number;
  readonly #lines: HeadLineReader;
  #finished = false;
  #statusLine: Omit<ResponseHead, "headers"> | undefined;
  #headers: FieldLine[] = [];

  /**
   * Create a parser for one response head.
   *
   * @param options limits; the defaults are the exported constants
   */
  constructor(options: ResponseHeadParserOptions = {}) {
    this.#maxHeaderCount = options.maxHeaderCount ??
      DEFAULTS.limits.maxResponseHeaderCount;
    this.#lines = new HeadLineReader(
      {
        maxHeadBytes: options.maxHeadBytes ??
          DEFAULTS.limits.maxResponseHeadBytes,
      },
      {
        tooLarge: (limit) =>
          this.#fail(`the response head exceeds ${limit} bytes`),
        malformed: this.#malformed,
      },
    );
  }

  /** How many bytes of this head have been consumed so far. */
  get bytesReceived(): number {
    return this.#lines.bytesReceived;
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
    const parsed = this.#lines.push(chunk, this.#endLine);
    if (parsed !== undefined) this.#finished = true;
    return parsed;
  }

  /** A line ended: parse it; the empty line after the status line ends the
   * head. */
  #endLine = (line: Uint8Array): ResponseHead | undefined => {
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
    this.#headers.push(parseFieldLine(line, this.#malformed));
    return undefined;
  };

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

  #malformed = (problem: string): never => this.#fail(problem);

  #fail(problem: string): never {
    this.#finished = true;
    throw new HandshakeError(
      this.#statusLine?.status ?? 0,
      `malformed handshake response: ${problem}`,
    );
  }
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
