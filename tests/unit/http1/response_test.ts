import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type ParsedResponseHead,
  responseHeaders,
  ResponseHeadParser,
} from "../../../http1/response.ts";
import { HandshakeError } from "../../../errors.ts";
import { DEFAULTS } from "../../../defaults.ts";

const encoder = new TextEncoder();

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (character) => character.charCodeAt(0));
}

/** Feed `text` in one chunk; the head must be complete. */
function parse(text: string, parser = new ResponseHeadParser()) {
  const parsed = parser.push(bytes(text));
  assert.ok(parsed !== undefined, "the head should be complete");
  return parsed;
}

/** Whether feeding `text` throws a HandshakeError with `status` whose
 * message contains `fragment`. */
function assertRefused(
  text: string,
  status: number,
  fragment: string,
  parser = new ResponseHeadParser(),
): void {
  assert.throws(() => parser.push(bytes(text)), (error: unknown) => {
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.status, status);
    assert.ok(
      error.message.includes(fragment),
      `${JSON.stringify(error.message)} should mention ${fragment}`,
    );
    return true;
  });
}

const SWITCHING = "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

describe("ResponseHeadParser", () => {
  test("parses the status line and headers, names in their sent case", () => {
    const { head, rest } = parse(SWITCHING);
    assert.equal(head.version, "HTTP/1.1");
    assert.equal(head.status, 101);
    assert.equal(head.reason, "Switching Protocols");
    assert.deepEqual(head.headers, [
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
    ]);
    assert.equal(rest.length, 0);
  });

  test("bytes after the head are returned as an owned copy", () => {
    const chunk = bytes(SWITCHING + "\x81\x02hi");
    const parsed = new ResponseHeadParser().push(chunk);
    assert.ok(parsed !== undefined);
    assert.deepEqual([...parsed.rest], [0x81, 0x02, 0x68, 0x69]);
    chunk.fill(0);
    assert.deepEqual([...parsed.rest], [0x81, 0x02, 0x68, 0x69]);
  });

  test("a head fed one byte at a time gives the same result", () => {
    const parser = new ResponseHeadParser();
    const all = bytes(SWITCHING + "tail");
    let parsed: ParsedResponseHead | undefined;
    for (let i = 0; i < all.length && parsed === undefined; i++) {
      parsed = parser.push(all.subarray(i, i + 1));
      if (parsed === undefined) assert.equal(parser.bytesReceived, i + 1);
    }
    assert.ok(parsed !== undefined);
    assert.deepEqual(parsed.head, parse(SWITCHING).head);
    // The byte that completed the head was the last one consumed.
    assert.equal(parser.bytesReceived, SWITCHING.length);
    assert.equal(parsed.rest.length, 0);
  });

  test("values are trimmed; empty values, obs-text and HTTP/1.0 are kept", () => {
    const { head } = parse(
      "HTTP/1.0 403 Forbidden\r\nX-A: \t spaced out \t\r\nX-Empty:\r\n" +
        "X-Latin: caf\xe9\r\n\r\n",
    );
    assert.equal(head.version, "HTTP/1.0");
    assert.equal(head.status, 403);
    assert.deepEqual(head.headers, [
      ["X-A", "spaced out"],
      ["X-Empty", ""],
      ["X-Latin", "caf\xe9"],
    ]);
  });

  test("a status line without a reason phrase, with or without its space", () => {
    assert.equal(parse("HTTP/1.1 101\r\n\r\n").head.reason, "");
    assert.equal(parse("HTTP/1.1 101 \r\n\r\n").head.reason, "");
    assert.equal(
      parse("HTTP/1.1 404 Not  Found\r\n\r\n").head.reason,
      "Not  Found",
    );
  });

  test("malformed status lines are refused with status 0", () => {
    assertRefused("HTTP/2.0 101 OK\r\n", 0, "HTTP/1.0 or HTTP/1.1");
    assertRefused("SSH-2.0-OpenSSH_9.2\r\n", 0, "HTTP/1.0 or HTTP/1.1");
    assertRefused("\r\n", 0, "HTTP/1.0 or HTTP/1.1");
    assertRefused("HTTP/1.1 1O1 Switching\r\n", 0, "status code");
    assertRefused("HTTP/1.1 99 Low\r\n", 0, "status code");
    assertRefused("HTTP/1.1 600 High\r\n", 0, "status code");
    assertRefused("HTTP/1.1  101 Extra space\r\n", 0, "status code");
    assertRefused("HTTP/1.11 101 x\r\n", 0, "status code");
    assertRefused("HTTP/1.1 1011 x\r\n", 0, "followed by a space");
    assertRefused("HTTP/1.1 101 Bad\x01reason\r\n", 0, "reason phrase");
  });

  test("line endings must be CRLF", () => {
    assertRefused("HTTP/1.1 101 OK\n", 0, "LF without CR");
    assertRefused("HTTP/1.1 101 OK\rX", 0, "CR not followed by LF");
    assertRefused(
      "HTTP/1.1 101 OK\r\nUpgrade: websocket\n",
      101,
      "LF without CR",
    );
  });

  test("malformed header lines are refused with the response's status", () => {
    const start = "HTTP/1.1 101 Switching Protocols\r\n";
    assertRefused(start + "Upgrade-websocket\r\n", 101, "no valid name");
    assertRefused(start + "Up(grade): websocket\r\n", 101, "no valid name");
    assertRefused(start + "Upgrade : websocket\r\n", 101, "whitespace");
    assertRefused(start + ": websocket\r\n", 101, "empty name");
    assertRefused(start + "A: b\r\n folded\r\n", 101, "folding");
    assertRefused(start + "A: b\x00c\r\n", 101, "control character");
    assertRefused(start + "A: b\x7fc\r\n", 101, "control character");
    assertRefused("HTTP/1.1 302 Found\r\nA: \x1b\r\n", 302, "control");
  });

  test("the head may be exactly the byte limit long, not one byte more", () => {
    const limit = 64;
    const start = "HTTP/1.1 101 OK\r\nX: ";
    const end = "\r\n\r\n";
    const exact = start + "v".repeat(limit - start.length - end.length) + end;
    assert.equal(exact.length, limit);
    const parser = new ResponseHeadParser({ maxHeadBytes: limit });
    assert.equal(parse(exact, parser).head.headers[0][1].length, 40);
    const over = start + "v".repeat(limit - start.length - end.length + 1) +
      end;
    assertRefused(
      over,
      101,
      "exceeds 64 bytes",
      new ResponseHeadParser({ maxHeadBytes: limit }),
    );
  });

  test("the default byte limit is 16 KiB", () => {
    assert.equal(DEFAULTS.limits.maxResponseHeadBytes, 16 * 1024);
    const huge = "HTTP/1.1 200 OK\r\nX: " + "v".repeat(16 * 1024);
    assertRefused(huge, 200, "exceeds 16384 bytes");
  });

  test("the header count limit allows exactly that many headers", () => {
    assert.equal(DEFAULTS.limits.maxResponseHeaderCount, 100);
    const lines = (count: number) => "X: y\r\n".repeat(count);
    const start = "HTTP/1.1 101 OK\r\n";
    const atLimit = parse(start + lines(100) + "\r\n");
    assert.equal(atLimit.head.headers.length, 100);
    assertRefused(start + lines(101) + "\r\n", 101, "more than 100 headers");
    const small = new ResponseHeadParser({ maxHeaderCount: 2 });
    assertRefused(start + lines(3), 101, "more than 2 headers", small);
  });

  test("a finished parser refuses more input", () => {
    const parser = new ResponseHeadParser();
    parse(SWITCHING, parser);
    assert.throws(() => parser.push(encoder.encode("x")), /already finished/);
    const broken = new ResponseHeadParser();
    assert.throws(() => broken.push(bytes("nonsense\r\n")), HandshakeError);
    assert.throws(() => broken.push(bytes("HTTP/1.1 101 OK\r\n")), /finished/);
  });

  test("responseHeaders joins repeated names as Headers does", () => {
    const { head } = parse(
      "HTTP/1.1 101 OK\r\nSec-WebSocket-Protocol: a\r\nsec-websocket-protocol: b\r\n\r\n",
    );
    const headers = responseHeaders(head);
    assert.equal(headers.get("Sec-WebSocket-Protocol"), "a, b");
  });
});
