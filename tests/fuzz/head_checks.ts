/**
 * Feeding HTTP heads to the parsers in pieces, and what every parsed head
 * must look like, checked with rules written here from RFC 9110/9112
 * rather than with the parser's own helpers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { HandshakeError } from "../../errors.ts";
import { HttpError } from "../../errors.ts";
import { type RequestHead, RequestHeadParser } from "../../http1/request.ts";
import { type ResponseHead, ResponseHeadParser } from "../../http1/response.ts";
import { concat } from "./bytes.ts";
import { latin1 } from "./http_heads.ts";

/** Statuses the request-head parser documents: malformed, too large, a
 * method too long to be implemented, unsupported version. */
export const REQUEST_HEAD_STATUSES: ReadonlySet<number> = new Set([
  400,
  431,
  501,
  505,
]);

/** How feeding a head ended. */
export type HeadOutcome<Head> =
  | { kind: "head"; head: Head; rest: Uint8Array; consumed: number }
  | { kind: "error"; status: number; message: string; consumed: number }
  | { kind: "incomplete"; consumed: number };

interface HeadParser<Head> {
  push(chunk: Uint8Array): { head: Head; rest: Uint8Array } | undefined;
  readonly bytesReceived: number;
}

function feed<Head>(
  parser: HeadParser<Head>,
  pieces: readonly Uint8Array[],
  statusOf: (error: unknown) => number,
): HeadOutcome<Head> {
  let pushed = 0;
  for (let index = 0; index < pieces.length; index++) {
    const piece = pieces[index];
    let result: { head: Head; rest: Uint8Array } | undefined;
    try {
      result = parser.push(piece);
    } catch (error) {
      const status = statusOf(error);
      return {
        kind: "error",
        status,
        message: (error as Error).message,
        consumed: parser.bytesReceived,
      };
    }
    pushed += piece.length;
    if (result !== undefined) {
      const consumed = parser.bytesReceived;
      assert.equal(
        consumed + result.rest.length,
        pushed,
        "rest is not exactly the bytes after the head",
      );
      return {
        kind: "head",
        head: result.head,
        rest: concat([result.rest, ...pieces.slice(index + 1)]),
        consumed,
      };
    }
  }
  return { kind: "incomplete", consumed: parser.bytesReceived };
}

/** Feeds a request head; any error but an `HttpError` with a documented
 * status fails the test. */
export function parseRequest(
  pieces: readonly Uint8Array[],
): HeadOutcome<RequestHead> {
  return feed(new RequestHeadParser(), pieces, (error) => {
    assert.ok(error instanceof HttpError, `not an HttpError: ${error}`);
    assert.ok(
      REQUEST_HEAD_STATUSES.has(error.status),
      `status ${error.status}: ${error.message}`,
    );
    return error.status;
  });
}

/** Feeds a response head; any error but a `HandshakeError` whose status is
 * 0 (no valid status line yet) or a status code fails the test. */
export function parseResponse(
  pieces: readonly Uint8Array[],
): HeadOutcome<ResponseHead> {
  return feed(new ResponseHeadParser(), pieces, (error) => {
    assert.ok(
      error instanceof HandshakeError,
      `not a HandshakeError: ${error}`,
    );
    assert.ok(
      error.status === 0 || (error.status >= 100 && error.status <= 599),
      `status ${error.status}`,
    );
    return error.status;
  });
}

const TCHARS = new Set(
  "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
);

/** RFC 9110 token. */
export function isTokenText(text: string): boolean {
  if (text.length === 0) return false;
  for (const char of text) if (!TCHARS.has(char)) return false;
  return true;
}

/** RFC 9110 field-value characters (VCHAR, SP, HTAB, obs-text). */
function isFieldText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x09 || (code >= 0x20 && code <= 0x7e)) continue;
    if (code >= 0x80 && code <= 0xff) continue;
    return false;
  }
  return true;
}

function checkFields(
  headers: ReadonlyArray<readonly [string, string]>,
): void {
  assert.ok(headers.length <= 100, `${headers.length} headers`);
  for (const [name, value] of headers) {
    assert.ok(isTokenText(name), `header name ${JSON.stringify(name)}`);
    assert.ok(isFieldText(value), `header value ${JSON.stringify(value)}`);
    for (const edge of [value.at(0), value.at(-1)]) {
      assert.ok(edge !== " " && edge !== "\t", "value not trimmed");
    }
  }
}

function serializeFields(
  headers: ReadonlyArray<readonly [string, string]>,
): string {
  let text = "";
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return text + "\r\n";
}

/** A parsed request head is well formed and serializes to a head that
 * parses to the same thing, no longer than what was read (but for one
 * space after each colon). */
export function checkRequestHead(head: RequestHead, consumed: number): void {
  assert.ok(isTokenText(head.method), `method ${JSON.stringify(head.method)}`);
  assert.ok(head.target.length > 0);
  for (let i = 0; i < head.target.length; i++) {
    const code = head.target.charCodeAt(i);
    assert.ok(
      code > 0x20 && code < 0x7f,
      `target ${JSON.stringify(head.target)}`,
    );
  }
  assert.ok(head.version === "HTTP/1.1" || head.version === "HTTP/1.0");
  checkFields(head.headers);
  const hosts = head.headers.filter(([name]) => name.toLowerCase() === "host");
  assert.ok(hosts.length === (head.version === "HTTP/1.1" ? 1 : hosts.length));
  assert.ok(hosts.length <= 1);
  assert.ok(consumed <= 16 * 1024, `head of ${consumed} bytes accepted`);
  const again = latin1(
    `${head.method} ${head.target} ${head.version}\r\n` +
      serializeFields(head.headers),
  );
  // Only the space after each colon may be new.
  assert.ok(again.length <= consumed + head.headers.length);
  const reparsed = parseRequest([again]);
  assert.equal(reparsed.kind, "head");
  if (reparsed.kind === "head") {
    assert.deepEqual(reparsed.head, head);
    assert.equal(reparsed.rest.length, 0);
  }
}

/** The same for a response head. */
export function checkResponseHead(head: ResponseHead, consumed: number): void {
  assert.ok(head.version === "HTTP/1.1" || head.version === "HTTP/1.0");
  assert.ok(Number.isInteger(head.status));
  assert.ok(head.status >= 100 && head.status <= 599, `status ${head.status}`);
  assert.ok(isFieldText(head.reason), `reason ${JSON.stringify(head.reason)}`);
  checkFields(head.headers);
  assert.ok(consumed <= 16 * 1024, `head of ${consumed} bytes accepted`);
  const again = latin1(
    `${head.version} ${head.status} ${head.reason}\r\n` +
      serializeFields(head.headers),
  );
  const reparsed = parseResponse([again]);
  assert.equal(reparsed.kind, "head");
  if (reparsed.kind === "head") {
    assert.deepEqual(reparsed.head, head);
    assert.equal(reparsed.rest.length, 0);
  }
}
