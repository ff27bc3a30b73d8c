/**
 * The small part of the HTTP header grammar (RFC 9110 sections 5.5, 5.6.1
 * and 5.6.2) that HTTP/1.1 and the WebSocket opening handshake need: tokens,
 * field-value characters, optional whitespace, quoted strings,
 * comma-separated lists, and the two list-valued WebSocket headers
 * `Sec-WebSocket-Extensions` (RFC 6455 section 9.1) and
 * `Sec-WebSocket-Protocol` (RFC 6455 section 4.1).
 *
 * Every parser here is a single left-to-right scan over the header value; no
 * regular expression ever sees attacker-controlled input.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";

/** One extension offer or response element per RFC 6455 section 9.1.
 * `name` and the parameter names are kept exactly as sent. A parameter sent
 * without a value maps to `true`. */
export interface ExtensionOffer {
  /** The extension token, for example `permessage-deflate`. */
  name: string;
  /** Parameters in the order sent; a parameter without a value is `true`. */
  params: Map<string, string | true>;
}

const SPACE = 0x20;
const HTAB = 0x09;
const DOUBLE_QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;

/** tchar from RFC 9110 section 5.6.2, as a lookup table over byte values. */
const TOKEN_CHARS: Uint8Array = buildTokenTable();

function buildTokenTable(): Uint8Array {
  const table = new Uint8Array(256);
  for (let code = 0x30; code <= 0x39; code++) table[code] = 1; // DIGIT
  for (let code = 0x41; code <= 0x5a; code++) table[code] = 1; // upper ALPHA
  for (let code = 0x61; code <= 0x7a; code++) table[code] = 1; // lower ALPHA
  for (const symbol of "!#$%&'*+-.^_`|~") table[symbol.charCodeAt(0)] = 1;
  return table;
}

/** Whether `code` (a byte or UTF-16 code unit) is an RFC 9110 `tchar`: a
 * character allowed in a token. */
export function isTokenChar(code: number): boolean {
  return code < 256 && TOKEN_CHARS[code] === 1;
}

/** Whether `text` is a non-empty RFC 9110 token (for example a header name). */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    if (!isTokenChar(text.charCodeAt(i))) return false;
  }
  return true;
}

/** Whether `code` may appear in a header field value (RFC 9110 section 5.5:
 * field-vchar, SP and HTAB; obs-text 0x80-0xFF included, other controls and
 * DEL excluded). */
export function isFieldValueChar(code: number): boolean {
  if (code === HTAB) return true;
  return code >= SPACE && code !== 0x7f && code <= 0xff;
}

/** Whether `text` may be sent as a header field value or reason phrase: no
 * CR, LF, NUL or other control characters (HTAB is allowed) and nothing
 * above U+00FF. */
export function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (!isFieldValueChar(text.charCodeAt(i))) return false;
  }
  return true;
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
  while (start < end && isWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

const BASE64_ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Base64 characters whose low four bits are zero: the only canonical last
 * data character when 16 bytes are encoded with `==` padding. */
const CANONICAL_LAST_KEY_CHARS = "AQgw";
const ENCODED_KEY_LENGTH = 24;
const ENCODED_KEY_DATA_LENGTH = 22;

/**
 * Why a `Sec-WebSocket-Key` value is not base64 of exactly 16 bytes, or
 * `undefined` when it is. A linear check: 22 base64 characters, the last of
 * which has zero padding bits (canonical encoding), then `==`. A value with a
 * comma is several keys joined by `Headers`.
 */
export function describeKeyProblem(key: string): string | undefined {
  if (key.includes(",")) {
    return "Sec-WebSocket-Key must appear exactly once, got several values";
  }
  if (key.length !== ENCODED_KEY_LENGTH) {
    return `Sec-WebSocket-Key must be 24 base64 characters (16 bytes), got ${key.length} characters`;
  }
  for (let i = 0; i < ENCODED_KEY_DATA_LENGTH; i++) {
    if (!BASE64_ALPHABET.includes(key[i])) {
      return `Sec-WebSocket-Key has a non-base64 character ${
        JSON.stringify(key[i])
      } at index ${i}`;
    }
  }
  if (key[22] !== "=" || key[23] !== "=") {
    return 'Sec-WebSocket-Key must end with "==" (16 bytes encode to 22 characters and 2 padding)';
  }
  if (!CANONICAL_LAST_KEY_CHARS.includes(key[21])) {
    return `Sec-WebSocket-Key is not canonical base64: last data character ${
      JSON.stringify(key[21])
    } has non-zero padding bits`;
  }
  return undefined;
}

function isWhitespace(code: number): boolean {
  return code === SPACE || code === HTAB;
}

/**
 * Split a comma-separated header value (RFC 9110 section 5.6.1 `#rule`) into its
 * elements with optional whitespace trimmed. A comma inside a quoted string
 * (backslash escapes included) does not split, so an element such as
 * `x; a="1,2"` stays whole; an unterminated quote runs to the end. Empty
 * elements are kept as `""` so the caller decides whether they are allowed.
 * Elements are not otherwise checked.
 */
export function splitList(value: string): string[] {
  const elements: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (quoted) {
      if (code === BACKSLASH) i++;
      else if (code === DOUBLE_QUOTE) quoted = false;
    } else if (code === DOUBLE_QUOTE) {
      quoted = true;
    } else if (code === COMMA) {
      elements.push(trimOptionalWhitespace(value.slice(start, i)));
      start = i + 1;
    }
  }
  elements.push(trimOptionalWhitespace(value.slice(start)));
  return elements;
}

/**
 * Whether the comma-separated header value contains `token`, compared
 * ASCII case-insensitively. Used for `Upgrade: websocket` and
 * `Connection: upgrade`, which may list several options
 * (`Connection: keep-alive, Upgrade`).
 */
export function listContainsToken(value: string, token: string): boolean {
  const wanted = token.toLowerCase();
  for (const element of splitList(value)) {
    if (element.toLowerCase() === wanted) return true;
  }
  return false;
}

/**
 * Parse `Sec-WebSocket-Protocol`: comma-separated tokens with optional
 * whitespace around the commas. Strict: empty elements, non-token characters
 * and duplicates (compared exactly, subprotocol names are case-sensitive) are
 * rejected with `HandshakeError(400)`.
 */
export function parseProtocols(value: string): string[] {
  const protocols: string[] = [];
  const seen = new Set<string>();
  for (const element of splitList(value)) {
    if (element.length === 0) {
      throw new HandshakeError(
        400,
        `Sec-WebSocket-Protocol has an empty element in ${
          JSON.stringify(value)
        }`,
      );
    }
    if (!isToken(element)) {
      throw new HandshakeError(
        400,
        `Sec-WebSocket-Protocol element ${
          JSON.stringify(element)
        } is not a token`,
      );
    }
    if (seen.has(element)) {
      throw new HandshakeError(
        400,
        `Sec-WebSocket-Protocol lists ${JSON.stringify(element)} twice`,
      );
    }
    seen.add(element);
    protocols.push(element);
  }
  return protocols;
}

/**
 * Serialize subprotocols into a `Sec-WebSocket-Protocol` value.
 *
 * @throws {TypeError} when a name is not a token or is listed twice.
 */
export function formatProtocols(protocols: readonly string[]): string {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) {
      throw new TypeError(
        `subprotocol ${JSON.stringify(protocol)} is not a token`,
      );
    }
    if (seen.has(protocol)) {
      throw new TypeError(
        `subprotocol ${JSON.stringify(protocol)} is listed twice`,
      );
    }
    seen.add(protocol);
  }
  return protocols.join(", ");
}

/** A left-to-right reader over one `Sec-WebSocket-Extensions` value. */
class ExtensionScanner {
  position = 0;
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  atEnd(): boolean {
    return this.position >= this.text.length;
  }

  peek(): number {
    return this.text.charCodeAt(this.position);
  }

  skipWhitespace(): void {
    while (!this.atEnd() && isWhitespace(this.peek())) this.position++;
  }

  fail(problem: string): never {
    throw new HandshakeError(
      400,
      `Sec-WebSocket-Extensions: ${problem} at offset ${this.position} of ${
        JSON.stringify(this.text)
      }`,
    );
  }

  /** Read a token; returns "" when the next character is not a tchar. */
  readToken(): string {
    const start = this.position;
    while (!this.atEnd() && isTokenChar(this.peek())) this.position++;
    return this.text.slice(start, this.position);
  }

  /** Read a quoted-string starting at the opening quote; returns it unescaped. */
  readQuotedString(): string {
    this.position++; // opening quote
    let unescaped = "";
    while (!this.atEnd()) {
      const code = this.peek();
      if (code === DOUBLE_QUOTE) {
        this.position++;
        return unescaped;
      }
      if (code === BACKSLASH) {
        this.position++;
        if (this.atEnd()) break;
        const escaped = this.peek();
        if (!isQuotedPairChar(escaped)) {
          this.fail("invalid character after backslash in quoted string");
        }
        unescaped += this.text[this.position];
        this.position++;
        continue;
      }
      if (!isQuotedTextChar(code)) {
        this.fail("invalid character in quoted string");
      }
      unescaped += this.text[this.position];
      this.position++;
    }
    return this.fail("unterminated quoted string");
  }
}

/** qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
function isQuotedTextChar(code: number): boolean {
  if (code === HTAB || code === SPACE || code === 0x21) return true;
  if (code >= 0x23 && code <= 0x5b) return true;
  if (code >= 0x5d && code <= 0x7e) return true;
  return code >= 0x80 && code <= 0xff;
}

/** quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
function isQuotedPairChar(code: number): boolean {
  if (code === HTAB) return true;
  if (code >= SPACE && code <= 0x7e) return true;
  return code >= 0x80 && code <= 0xff;
}

/**
 * Parse a `Sec-WebSocket-Extensions` value (several header lines joined by
 * `", "` are fine) per RFC 6455 section 9.1:
 *
 * ```
 * extension-list = 1#extension
 * extension      = token *( ";" param )
 * param          = token [ "=" ( token / quoted-string ) ]
 * ```
 *
 * A quoted value must itself be a token once unescaped. Optional whitespace
 * is allowed around `,`, `;` and `=`. Empty list elements (`", ,"`) are
 * skipped, but at least one extension must be present. Offers of the same
 * extension are kept in the order sent. A parameter named twice within one
 * element is rejected, since a `Map` could not keep both.
 *
 * @throws {HandshakeError} with status 400 on any syntax error.
 */
export function parseExtensions(value: string): ExtensionOffer[] {
  const scanner = new ExtensionScanner(value);
  const extensions: ExtensionOffer[] = [];
  while (true) {
    scanner.skipWhitespace();
    if (scanner.atEnd()) break;
    if (scanner.peek() === COMMA) {
      scanner.position++; // empty list element
      continue;
    }
    const name = scanner.readToken();
    if (name.length === 0) scanner.fail("expected an extension name");
    const params = new Map<string, string | true>();
    scanner.skipWhitespace();
    while (!scanner.atEnd() && scanner.peek() === SEMICOLON) {
      scanner.position++;
      scanner.skipWhitespace();
      const paramName = scanner.readToken();
      if (paramName.length === 0) {
        scanner.fail(`expected a parameter name after ";" in "${name}"`);
      }
      if (params.has(paramName)) {
        scanner.fail(`parameter "${paramName}" repeated in "${name}"`);
      }
      scanner.skipWhitespace();
      let paramValue: string | true = true;
      if (!scanner.atEnd() && scanner.peek() === EQUALS) {
        scanner.position++;
        scanner.skipWhitespace();
        paramValue = readParamValue(scanner, paramName);
        scanner.skipWhitespace();
      }
      params.set(paramName, paramValue);
    }
    extensions.push({ name, params });
    if (scanner.atEnd()) break;
    if (scanner.peek() !== COMMA) {
      scanner.fail(
        `unexpected character ${JSON.stringify(value[scanner.position])}`,
      );
    }
    scanner.position++;
  }
  if (extensions.length === 0) {
    throw new HandshakeError(
      400,
      `Sec-WebSocket-Extensions lists no extension in ${JSON.stringify(value)}`,
    );
  }
  return extensions;
}

function readParamValue(scanner: ExtensionScanner, paramName: string): string {
  if (!scanner.atEnd() && scanner.peek() === DOUBLE_QUOTE) {
    const start = scanner.position;
    const unescaped = scanner.readQuotedString();
    if (!isToken(unescaped)) {
      scanner.position = start;
      scanner.fail(
        `quoted value of "${paramName}" is not a token once unescaped`,
      );
    }
    return unescaped;
  }
  const token = scanner.readToken();
  if (token.length === 0) {
    scanner.fail(`expected a value after "=" for "${paramName}"`);
  }
  return token;
}

/**
 * Serialize extension elements back into a header value, for example
 * `permessage-deflate; client_max_window_bits=10; server_no_context_takeover`.
 * Values are written as bare tokens (RFC 6455 section 9.1 allows only token
 * values, so quoting is never needed).
 *
 * @throws {TypeError} when a name or value is not a token.
 */
export function formatExtensions(
  extensions: readonly ExtensionOffer[],
): string {
  const elements: string[] = [];
  for (const extension of extensions) {
    if (!isToken(extension.name)) {
      throw new TypeError(
        `extension name ${JSON.stringify(extension.name)} is not a token`,
      );
    }
    let element = extension.name;
    for (const [paramName, paramValue] of extension.params) {
      if (!isToken(paramName)) {
        throw new TypeError(
          `parameter name ${
            JSON.stringify(paramName)
          } of "${extension.name}" is not a token`,
        );
      }
      element += `; ${paramName}`;
      if (paramValue === true) continue;
      if (!isToken(paramValue)) {
        throw new TypeError(
          `value ${
            JSON.stringify(paramValue)
          } of "${paramName}" is not a token`,
        );
      }
      element += `=${paramValue}`;
    }
    elements.push(element);
  }
  return elements.join(", ");
}

/**
 * Return `value` when it may be sent as the value of header `name`.
 *
 * @throws {TypeError} when it holds CR, LF or another forbidden character.
 */
export function checkFieldValue(name: string, value: string): string {
  if (!isFieldValue(value)) {
    throw new TypeError(
      `header ${name} value ${
        JSON.stringify(value)
      } contains CR, LF or another forbidden character`,
    );
  }
  return value;
}

/**
 * Turn caller-supplied headers into `Name: value\r\n` lines, keeping the
 * caller's spelling and order (a `Headers` object yields lower-cased names).
 *
 * @param init the headers, in any `HeadersInit` form
 * @param reservedNames lower-case names the caller may not set
 * @throws {TypeError} for a name that is not a token or is reserved, or a
 * value with CR, LF or another forbidden character.
 */
export function formatHeaderLines(
  init: HeadersInit | undefined,
  reservedNames: ReadonlySet<string>,
): string {
  if (init === undefined) return "";
  let entries: Iterable<readonly string[]>;
  if (init instanceof Headers) entries = init.entries();
  else if (Array.isArray(init)) entries = init;
  else entries = Object.entries(init as Record<string, string>);
  let lines = "";
  for (const entry of entries) {
    if (entry.length !== 2) {
      throw new TypeError("each header must be a [name, value] pair");
    }
    const [name, value] = entry;
    if (!isToken(name)) {
      throw new TypeError(`header name ${JSON.stringify(name)} is not a token`);
    }
    if (reservedNames.has(name.toLowerCase())) {
      throw new TypeError(
        `header ${name} is set by the handshake and may not be overridden`,
      );
    }
    lines += `${name}: ${checkFieldValue(name, String(value))}\r\n`;
  }
  return lines;
}
