/**
 * The HTTP/1.1 message syntax (RFC 9112) that the server needs: an
 * incremental request-head parser and response-head serialization. Body
 * framing lives in `http1_body.ts`.
 *
 * Pure: no runtime-specific API, so it runs in Deno, Bun and browsers. Every
 * parser is a linear scan over bytes; no regular expression ever sees
 * attacker-controlled input.
 *
 * @module
 */

/** Default limit on the size of a request head in bytes: the request line,
 * every header line and the empty line that ends the head, CRLFs included
 * (empty lines before the request line count too). Default 16 KiB; a larger
 * head is answered with 431. */
export const MAX_HEAD_BYTES: number = 16 * 1024;

/** Default limit on the number of header lines in a request head. Default
 * 100; more are answered with 431. */
export const MAX_HEADER_COUNT: number = 100;

/**
 * A request that the server refuses at the HTTP level. `status` is the
 * response status to answer with (400, 408, 413, 431, 501, 505); the
 * connection is closed after the answer, since the framing can no longer be
 * trusted.
 */
export class HttpError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;

  /**
   * Create an error that answers the request with `status`.
   *
   * @param status the HTTP status to answer with
   * @param message why the request was refused (sent as the response body)
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/** The HTTP versions this server speaks. */
export type HttpVersion = "HTTP/1.0" | "HTTP/1.1";

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
  readonly headers: ReadonlyArray<readonly [string, string]>;
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
  /** Maximum head size in bytes; default {@linkcode MAX_HEAD_BYTES}. */
  maxHeadBytes?: number;
  /** Maximum number of header lines; default {@linkcode MAX_HEADER_COUNT}. */
  maxHeaderCount?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** tchar from RFC 9110 section 5.6.2, as a lookup table over byte values. */
const TOKEN_CHARS: Uint8Array = buildTokenTable();

function buildTokenTable(): Uint8Array {
  const table = new Uint8Array(256);
  for (let code = 0x30; code <= 0x39; code++) table[code] = 1;
  for (let code = 0x41; code <= 0x5a; code++) table[code] = 1;
  for (let code = 0x61; code <= 0x7a; code++) table[code] = 1;
  for (const symbol of "!#$%&'*+-.^_`|~") table[symbol.charCodeAt(0)] = 1;
  return table;
}

/** Whether `code` (a byte or UTF-16 code unit) is an RFC 9110 `tchar`. */
export function isTokenCode(code: number): boolean {
  return code < 256 && TOKEN_CHARS[code] === 1;
}

/** Whether `text` is a non-empty RFC 9110 token, such as a header name. */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    if (!isTokenCode(text.charCodeAt(i))) return false;
  }
  return true;
}

/** field-vchar / SP / HTAB: what a header value may contain (RFC 9110
 * section 5.5); obs-text (0x80-0xFF) included, controls and DEL excluded. */
function isFieldValueCode(code: number): boolean {
  if (code === HTAB) return true;
  return code >= SPACE && code !== 0x7f && code <= 0xff;
}

/**
 * `text` without leading and trailing optional whitespace (RFC 9110 OWS: SP
 * and HTAB only). `String.prototype.trim` would also strip U+00A0 and other
 * Unicode spaces, which a Latin-1 header value can contain and which must
 * make the value invalid, not disappear.
 *
 * @param text a header value or list element
 * @returns the text without surrounding SP and HTAB
 */
export function trimOptionalWhitespace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOptionalWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isOptionalWhitespace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isOptionalWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Whether `text` may be sent as a header value or reason phrase: no CR, LF,
 * NUL or other control character (HTAB allowed), nothing above U+00FF. */
export function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (!isFieldValueCode(text.charCodeAt(i))) return false;
  }
  return true;
}

/** Decode bytes one to one into the characters U+0000 to U+00FF. */
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

/** Encode a string of characters U+0000 to U+00FF one to one into bytes.
 * @throws {TypeError} when a character is above U+00FF. */
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

/**
 * An incremental request-head parser. Feed it the bytes as they arrive with
 * {@linkcode RequestHeadParser.push}; it returns the parsed head once the
 * empty line that ends it has arrived. Each byte is looked at once while
 * searching for the end, so a head that trickles in byte by byte costs
 * linear time. Empty lines before the request line are skipped
 * (RFC 9112 section 2.2). Line endings must be CRLF: a bare CR or LF is
 * rejected with 400 as soon as it is seen.
 *
 * @throws {HttpError} from `push`: 400 malformed, 431 too large or too many
 * headers, 505 unsupported version (including the HTTP/2 preface).
 */
export class RequestHeadParser {
  readonly #maxHeadBytes: number;
  readonly #maxHeaderCount: number;
  #stored: Uint8Array = new Uint8Array(256);
  #storedLength = 0;
  #received = 0;
  #lineLength = 0;
  #sawCR = false;
  #finished = false;

  /**
   * Create a parser for one request head.
   *
   * @param options limits; the defaults are the exported constants
   */
  constructor(options: HeadParserOptions = {}) {
    this.#maxHeadBytes = options.maxHeadBytes ?? MAX_HEAD_BYTES;
    this.#maxHeaderCount = options.maxHeaderCount ?? MAX_HEADER_COUNT;
  }

  /** How many bytes of this head have been consumed so far. */
  get bytesReceived(): number {
    return this.#received;
  }

  /**
   * Consume the next chunk. Returns `undefined` while the head is
   * incomplete; once it is complete returns the head and the bytes after it.
   * The parser must not be fed again after it returned a head or threw.
   */
  push(chunk: Uint8Array): ParsedHead | undefined {
    if (this.#finished) throw new Error("RequestHeadParser already finished");
    for (let i = 0; i < chunk.length; i++) {
      if (this.#received >= this.#maxHeadBytes) {
        this.#finished = true;
        throw new HttpError(
          431,
          `request head exceeds ${this.#maxHeadBytes} bytes`,
        );
      }
      this.#received++;
      const byte = chunk[i];
      if (this.#sawCR) {
        this.#sawCR = false;
        if (byte !== LF) this.#fail("CR not followed by LF");
        if (this.#lineLength === 0) {
          if (this.#storedLength === 0) continue; // empty line before the request line
          this.#finished = true;
          const head = parseHead(
            this.#stored.subarray(0, this.#storedLength),
            this.#maxHeaderCount,
          );
          return { head, rest: chunk.slice(i + 1) };
        }
        this.#store(CR);
        this.#store(LF);
        this.#lineLength = 0;
        continue;
      }
      if (byte === CR) {
        this.#sawCR = true;
      } else if (byte === LF) {
        this.#fail("LF without CR");
      } else {
        this.#store(byte);
        this.#lineLength++;
      }
    }
    return undefined;
  }

  #fail(problem: string): never {
    this.#finished = true;
    throw new HttpError(400, `malformed request head: ${problem}`);
  }

  #store(byte: number): void {
    if (this.#storedLength === this.#stored.length) {
      const grown = new Uint8Array(this.#stored.length * 2);
      grown.set(this.#stored);
      this.#stored = grown;
    }
    this.#stored[this.#storedLength++] = byte;
  }
}

/** Parse a complete head: lines separated by CRLF, with the empty line that
 * ends the head already removed (the last line has its CRLF removed too). */
function parseHead(bytes: Uint8Array, maxHeaderCount: number): RequestHead {
  let lineEnd = bytes.indexOf(CR);
  if (lineEnd === -1) lineEnd = bytes.length;
  const { method, target, version } = parseRequestLine(bytes, 0, lineEnd);
  const headers: Array<readonly [string, string]> = [];
  let lineStart = lineEnd + 2;
  while (lineStart < bytes.length) {
    lineEnd = bytes.indexOf(CR, lineStart);
    if (lineEnd === -1) lineEnd = bytes.length;
    if (headers.length === maxHeaderCount) {
      throw new HttpError(
        431,
        `request has more than ${maxHeaderCount} header lines`,
      );
    }
    headers.push(parseHeaderLine(bytes, lineStart, lineEnd));
    lineStart = lineEnd + 2;
  }
  checkHost(headers, version);
  return { method, target, version, headers };
}

function malformed(problem: string): HttpError {
  return new HttpError(400, `malformed request: ${problem}`);
}

/** request-line = method SP request-target SP HTTP-version */
function parseRequestLine(
  bytes: Uint8Array,
  start: number,
  end: number,
): { method: string; target: string; version: HttpVersion } {
  let position = start;
  while (position < end && isTokenCode(bytes[position])) position++;
  if (position === start) throw malformed("request line has no method");
  if (position === end || bytes[position] !== SPACE) {
    throw malformed("invalid character in method");
  }
  const method = decodeLatin1(bytes, start, position);
  position++;
  const targetStart = position;
  while (position < end && bytes[position] > SPACE && bytes[position] < 0x7f) {
    position++;
  }
  if (position === targetStart) throw malformed("request line has no target");
  if (position === end || bytes[position] !== SPACE) {
    throw malformed("invalid character in request target");
  }
  const target = decodeLatin1(bytes, targetStart, position);
  position++;
  return { method, target, version: parseVersion(bytes, position, end) };
}

/** HTTP-version = "HTTP/" DIGIT "." DIGIT; only 1.0 and 1.1 are served. */
function parseVersion(
  bytes: Uint8Array,
  start: number,
  end: number,
): HttpVersion {
  const prefix = "HTTP/";
  let wellFormed = end - start === prefix.length + 3;
  for (let i = 0; wellFormed && i < prefix.length; i++) {
    if (bytes[start + i] !== prefix.charCodeAt(i)) wellFormed = false;
  }
  const major = bytes[start + 5] - 0x30;
  const minor = bytes[start + 7] - 0x30;
  if (
    !wellFormed || !(major >= 0 && major <= 9) || bytes[start + 6] !== 0x2e ||
    !(minor >= 0 && minor <= 9)
  ) {
    throw malformed("invalid HTTP version in request line");
  }
  if (major === 1 && minor === 1) return "HTTP/1.1";
  if (major === 1 && minor === 0) return "HTTP/1.0";
  throw new HttpError(
    505,
    `HTTP/${major}.${minor} is not supported; this server speaks HTTP/1.1`,
  );
}

/** field-line = field-name ":" OWS field-value OWS */
function parseHeaderLine(
  bytes: Uint8Array,
  start: number,
  end: number,
): readonly [string, string] {
  const first = bytes[start];
  if (first === SPACE || first === HTAB) {
    throw malformed("obsolete line folding is not accepted");
  }
  let position = start;
  while (position < end && isTokenCode(bytes[position])) position++;
  if (position === end) throw malformed("header line has no colon");
  const stop = bytes[position];
  if (stop !== COLON) {
    if (stop === SPACE || stop === HTAB) {
      throw malformed("whitespace between header name and colon");
    }
    throw malformed("invalid character in header name");
  }
  if (position === start) throw malformed("empty header name");
  const name = decodeLatin1(bytes, start, position);
  let valueStart = position + 1;
  let valueEnd = end;
  while (
    valueStart < valueEnd &&
    (bytes[valueStart] === SPACE || bytes[valueStart] === HTAB)
  ) valueStart++;
  while (
    valueEnd > valueStart &&
    (bytes[valueEnd - 1] === SPACE || bytes[valueEnd - 1] === HTAB)
  ) valueEnd--;
  for (let i = valueStart; i < valueEnd; i++) {
    if (!isFieldValueCode(bytes[i])) {
      throw malformed(`invalid character in value of header "${name}"`);
    }
  }
  return [name, decodeLatin1(bytes, valueStart, valueEnd)];
}

/** RFC 9112 section 3.2: an HTTP/1.1 request has exactly one Host header;
 * no request has two. */
function checkHost(
  headers: ReadonlyArray<readonly [string, string]>,
  version: HttpVersion,
): void {
  let count = 0;
  for (const [name] of headers) {
    if (name.length === 4 && name.toLowerCase() === "host") count++;
  }
  if (count > 1) throw malformed("more than one Host header");
  if (count === 0 && version === "HTTP/1.1") {
    throw malformed("HTTP/1.1 request without a Host header");
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
