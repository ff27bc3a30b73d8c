/**
 * The HTTP/1.1 message syntax (RFC 9112) that the server needs: an
 * incremental request-head parser and response-head serialization. Body
 * framing lives in `body.ts`; what the request and response head
 * parsers share, in `http1_head.ts`.
 *
 * Pure: no runtime-specific API, so it runs in Deno, Bun and browsers. Every
 * parser is a linear scan over bytes; no regular expression ever sees
 * attacker-controlled input.
 *
 * @module
 */

import { isFieldValue, isToken, isTokenChar } from "./header_grammar.ts";
import {
  decodeLatin1,
  encodeLatin1,
  type FieldLine,
  HeadLineReader,
  type HeadProblems,
  type HttpVersion,
  parseFieldLine,
} from "./head.ts";
import { DEFAULTS } from "../defaults.ts";
import { HttpError } from "../errors.ts";

// Re-exported for client.ts, which writes its request head with it.

/** A parsed request head. Header names keep the case they were sent in and
 * values are trimmed of surrounding whitespace; bytes above 0x7F are kept as
 * the characters U+0080 to U+00FF (a `ByteString`, as `Headers` expects). */
export interface RequestHead {
  /** The method token, case preserved (`GET`). */
  readonly method: string;
  /** The request target as sent (`/chat?room=1`). */
  readonly target: string;
  /** The protocol version from the request line. */
  readonly version: HttpVersion;
  /** Header lines in the order sent, as `[name, value]`. */
  readonly headers: ReadonlyArray<FieldLine>;
}

/** The result of a completed head: the head and the bytes that followed it
 * in the last chunk (the start of the body or of the next request). */
export interface ParsedHead {
  /** The parsed request head. */
  readonly head: RequestHead;
  /** Bytes after the head's final CRLF; an owned copy, possibly empty. */
  readonly rest: Uint8Array;
}

/** Limits for {@linkcode RequestHeadParser}. */
export interface HeadParserOptions {
  /** Maximum head size in bytes; default `DEFAULTS.limits.maxHeadBytes`. */
  maxHeadBytes?: number;
  /** Maximum number of header lines; default `DEFAULTS.limits.maxHeaderCount`. */
  maxHeaderCount?: number;
}

const SPACE = 0x20;
const DEL = 0x7f;
const DIGIT_ZERO = 0x30;

/**
 * An incremental request-head parser. Feed it the bytes as they arrive with
 * {@linkcode RequestHeadParser.push}; it returns the parsed head once the
 * empty line that ends it has arrived. Each byte is looked at once, so a
 * head that trickles in byte by byte costs linear time. Empty lines before
 * the request line are skipped (RFC 9112 section 2.2). Line endings must be
 * CRLF. Whatever cannot be part of a valid head is refused as soon as it is
 * seen: the request line byte by byte (so a peer that does not speak HTTP,
 * such as a TLS ClientHello sent to a plain port, is refused at its first
 * byte), a bare CR or LF at once, each header line as it ends.
 *
 * @throws {HttpError} from `push`: 400 malformed, 431 too large or too many
 * headers, 501 a method longer than `DEFAULTS.limits.maxMethodLength`, 505
 * unsupported version (including the HTTP/2 preface).
 */
export class RequestHeadParser {
  readonly #maxHeaderCount: number;
  readonly #lines: HeadLineReader;
  readonly #requestLineChecker = new RequestLineChecker();
  #requestLine: RequestLine | undefined;
  #headers: FieldLine[] = [];
  #finished = false;

  /**
   * Create a parser for one request head.
   *
   * @param options limits; the defaults are the exported constants
   */
  constructor(options: HeadParserOptions = {}) {
    this.#maxHeaderCount = options.maxHeaderCount ??
      DEFAULTS.limits.maxHeaderCount;
    this.#lines = new HeadLineReader({
      maxHeadBytes: options.maxHeadBytes ?? DEFAULTS.limits.maxHeadBytes,
      checkStartLineByte: this.#requestLineChecker.check,
    }, REQUEST_HEAD_PROBLEMS);
  }

  /** How many bytes of this head have been consumed so far. */
  get bytesReceived(): number {
    return this.#lines.bytesReceived;
  }

  /**
   * Consume the next chunk. Returns `undefined` while the head is
   * incomplete; once it is complete returns the head and the bytes after it.
   * The parser must not be fed again after it returned a head or threw.
   */
  push(chunk: Uint8Array): ParsedHead | undefined {
    if (this.#finished) throw new Error("RequestHeadParser already finished");
    let parsed: ParsedHead | undefined;
    try {
      parsed = this.#lines.push(chunk, this.#endLine);
    } catch (error) {
      this.#finished = true;
      throw error;
    }
    if (parsed !== undefined) this.#finished = true;
    return parsed;
  }

  /** A line ended: the request line, a header line, or the empty line that
   * ends the head. */
  #endLine = (line: Uint8Array): RequestHead | undefined => {
    if (this.#requestLine === undefined) {
      if (line.length > 0) {
        this.#requestLine = this.#requestLineChecker.finish(line);
      }
      return undefined; // empty lines before the request line are skipped
    }
    if (line.length === 0) {
      checkHost(this.#headers, this.#requestLine.version);
      return { ...this.#requestLine, headers: this.#headers };
    }
    if (this.#headers.length === this.#maxHeaderCount) {
      throw new HttpError(
        431,
        `request has more than ${this.#maxHeaderCount} header lines`,
      );
    }
    this.#headers.push(parseFieldLine(line, malformed));
    return undefined;
  };
}

function malformed(problem: string): never {
  throw new HttpError(400, `malformed request head: ${problem}`);
}

const REQUEST_HEAD_PROBLEMS: HeadProblems = {
  tooLarge(limit: number): never {
    throw new HttpError(431, `request head exceeds ${limit} bytes`);
  },
  malformed,
};

/** The request line's parts: `method SP request-target SP HTTP-version`. */
type RequestLine = Omit<RequestHead, "headers">;

/** "HTTP/" DIGIT "." DIGIT, with `#` standing for a digit. */
const VERSION_PATTERN = "HTTP/#.#";

/**
 * Checks a request line (RFC 9112 section 3) byte by byte as it arrives and
 * refuses it at the first byte that cannot belong to one: a method byte
 * that is not a token character, a method longer than
 * `DEFAULTS.limits.maxMethodLength`, a control or non-ASCII byte in the target,
 * a version that is not `HTTP/` digit `.` digit.
 */
class RequestLineChecker {
  #part: "method" | "target" | "version" = "method";
  #partLength = 0;
  #methodLength = 0;

  /** Check the next byte of the line (never CR or LF). */
  check = (byte: number): void => {
    if (this.#part === "method") {
      if (byte === SPACE) {
        if (this.#partLength === 0) malformed("request line has no method");
        this.#methodLength = this.#partLength;
        this.#nextPart("target");
      } else if (!isTokenChar(byte)) {
        malformed("invalid character in method");
      } else if (++this.#partLength > DEFAULTS.limits.maxMethodLength) {
        // RFC 9112 section 3: a method longer than any implemented is 501.
        throw new HttpError(
          501,
          `request method longer than ${DEFAULTS.limits.maxMethodLength} bytes: not implemented`,
        );
      }
    } else if (this.#part === "target") {
      if (byte === SPACE) {
        if (this.#partLength === 0) malformed("request line has no target");
        this.#nextPart("version");
      } else if (byte < SPACE || byte >= DEL) {
        malformed("invalid character in request target");
      } else {
        this.#partLength++;
      }
    } else {
      if (!fitsVersionPattern(byte, this.#partLength)) {
        malformed("invalid HTTP version in request line");
      }
      this.#partLength++;
    }
  };

  #nextPart(part: "target" | "version"): void {
    this.#part = part;
    this.#partLength = 0;
  }

  /** The whole line arrived, every byte of it checked: its parts.
   * @throws {HttpError} 400 for a line that stopped short, 505 for a
   * version other than 1.0 and 1.1 */
  finish(line: Uint8Array): RequestLine {
    if (this.#part !== "version") {
      malformed(
        this.#part === "method"
          ? "request line has no target"
          : "request line has no HTTP version",
      );
    }
    if (this.#partLength !== VERSION_PATTERN.length) {
      malformed("invalid HTTP version in request line");
    }
    const targetStart = this.#methodLength + 1;
    const versionStart = line.length - VERSION_PATTERN.length;
    const major = line[versionStart + 5] - DIGIT_ZERO;
    const minor = line[versionStart + 7] - DIGIT_ZERO;
    let version: HttpVersion;
    if (major === 1 && minor === 1) version = "HTTP/1.1";
    else if (major === 1 && minor === 0) version = "HTTP/1.0";
    else {
      throw new HttpError(
        505,
        `HTTP/${major}.${minor} is not supported; this server speaks HTTP/1.1`,
      );
    }
    return {
      method: decodeLatin1(line, 0, this.#methodLength),
      target: decodeLatin1(line, targetStart, versionStart - 1),
      version,
    };
  }
}

/** Whether `byte` may stand at `index` of an HTTP-version. */
function fitsVersionPattern(byte: number, index: number): boolean {
  if (index >= VERSION_PATTERN.length) return false;
  const expected = VERSION_PATTERN.charCodeAt(index);
  if (expected === 0x23) return byte >= DIGIT_ZERO && byte <= DIGIT_ZERO + 9;
  return byte === expected;
}

/** RFC 9112 section 3.2: an HTTP/1.1 request has exactly one Host header;
 * no request has two. */
function checkHost(
  headers: ReadonlyArray<FieldLine>,
  version: HttpVersion,
): void {
  let count = 0;
  for (const [name] of headers) {
    if (name.length === 4 && name.toLowerCase() === "host") count++;
  }
  if (count > 1) malformed("more than one Host header");
  if (count === 0 && version === "HTTP/1.1") {
    malformed("HTTP/1.1 request without a Host header");
  }
}

/** Every value of header `name` (compared case-insensitively) in order. */
export function headerValues(head: RequestHead, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [headerName, value] of head.headers) {
    if (
      headerName.length === wanted.length &&
      headerName.toLowerCase() === wanted
    ) values.push(value);
  }
  return values;
}

const REASON_PHRASES: ReadonlyMap<number, string> = new Map([
  [100, "Continue"],
  [101, "Switching Protocols"],
  [200, "OK"],
  [201, "Created"],
  [202, "Accepted"],
  [203, "Non-Authoritative Information"],
  [204, "No Content"],
  [205, "Reset Content"],
  [206, "Partial Content"],
  [301, "Moved Permanently"],
  [302, "Found"],
  [303, "See Other"],
  [304, "Not Modified"],
  [307, "Temporary Redirect"],
  [308, "Permanent Redirect"],
  [400, "Bad Request"],
  [401, "Unauthorized"],
  [403, "Forbidden"],
  [404, "Not Found"],
  [405, "Method Not Allowed"],
  [406, "Not Acceptable"],
  [408, "Request Timeout"],
  [409, "Conflict"],
  [410, "Gone"],
  [411, "Length Required"],
  [412, "Precondition Failed"],
  [413, "Content Too Large"],
  [414, "URI Too Long"],
  [415, "Unsupported Media Type"],
  [416, "Range Not Satisfiable"],
  [417, "Expectation Failed"],
  [421, "Misdirected Request"],
  [422, "Unprocessable Content"],
  [426, "Upgrade Required"],
  [428, "Precondition Required"],
  [429, "Too Many Requests"],
  [431, "Request Header Fields Too Large"],
  [500, "Internal Server Error"],
  [501, "Not Implemented"],
  [502, "Bad Gateway"],
  [503, "Service Unavailable"],
  [504, "Gateway Timeout"],
  [505, "HTTP Version Not Supported"],
]);

/** The RFC 9110 reason phrase for `status`, or `""` for an unknown status. */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES.get(status) ?? "";
}

/**
 * Serialize a response head: `HTTP/1.1 <status> <reason>`, the header lines
 * and the empty line. An empty `statusText` is replaced by the standard
 * reason phrase.
 *
 * @throws {TypeError} when the status is not a three-digit number, or the
 * reason phrase, a header name or a header value could split the head
 * (CR, LF, NUL or another control character; a name that is not a token).
 */
export function serializeResponseHead(
  status: number,
  statusText: string,
  headers: Iterable<readonly [string, string]>,
): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new TypeError(`invalid status ${status}`);
  }
  const reason = statusText === "" ? reasonPhrase(status) : statusText;
  if (!isFieldValue(reason)) {
    throw new TypeError(`invalid reason phrase ${JSON.stringify(reason)}`);
  }
  let text = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, value] of headers) {
    if (!isToken(name)) {
      throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    }
    if (!isFieldValue(value)) {
      throw new TypeError(
        `invalid value for header "${name}": ${JSON.stringify(value)}`,
      );
    }
    text += `${name}: ${value}\r\n`;
  }
  text += "\r\n";
  return encodeLatin1(text);
}
