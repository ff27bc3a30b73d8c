import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { concat } from "../../support/bytes.ts";
import { HttpError } from "../../../errors.ts";
import {
  type ParsedHead,
  RequestHeadParser,
  serializeResponseHead,
} from "../../../http1/request.ts";
import { DEFAULTS } from "../../../defaults.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A small deterministic PRNG (mulberry32) so random splits are repeatable. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Feed `pieces` to a fresh parser; returns the result of the piece that
 * completed the head, and checks no earlier piece completed it. */
function feed(pieces: Uint8Array[]): ParsedHead {
  const parser = new RequestHeadParser();
  for (let i = 0; i < pieces.length; i++) {
    const result = parser.push(pieces[i]);
    if (result !== undefined) {
      const after = concat(result.rest, ...pieces.slice(i + 1));
      return { head: result.head, rest: after };
    }
  }
  throw new Error("head never completed");
}

function parseText(text: string): ParsedHead {
  return feed([bytes(text)]);
}

function assertHttpError(action: () => unknown, status: number): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof HttpError, `expected HttpError, got ${error}`);
    assert.equal(error.status, status, error.message);
    return true;
  });
}

const SAMPLE_HEAD = "GET /chat?room=1 HTTP/1.1\r\n" +
  "Host: example.com:8080\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: keep-alive, Upgrade\r\n" +
  "X-Spaced:   padded value \t\r\n" +
  "X-Empty:\r\n" +
  "\r\n";
const SAMPLE_BODY = "next request bytes";

function checkSample(result: ParsedHead): void {
  assert.equal(result.head.method, "GET");
  assert.equal(result.head.target, "/chat?room=1");
  assert.equal(result.head.version, "HTTP/1.1");
  assert.deepEqual(result.head.headers, [
    ["Host", "example.com:8080"],
    ["Upgrade", "websocket"],
    ["Connection", "keep-alive, Upgrade"],
    ["X-Spaced", "padded value"],
    ["X-Empty", ""],
  ]);
  assert.equal(decoder.decode(result.rest), SAMPLE_BODY);
}

describe("RequestHeadParser", () => {
  const sample = bytes(SAMPLE_HEAD + SAMPLE_BODY);

  test("parses a head in one piece", () => {
    checkSample(feed([sample]));
  });

  test("parses a head split at every point", () => {
    for (let split = 0; split <= sample.length; split++) {
      checkSample(feed([sample.subarray(0, split), sample.subarray(split)]));
    }
  });

  test("parses a head fed byte by byte", () => {
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < sample.length; i++) {
      pieces.push(sample.subarray(i, i + 1));
    }
    checkSample(feed(pieces));
  });

  test("parses a head fed in random pieces", () => {
    const next = random(6455);
    for (let round = 0; round < 200; round++) {
      const pieces: Uint8Array[] = [];
      let offset = 0;
      while (offset < sample.length) {
        const size = 1 + Math.floor(next() * 12);
        pieces.push(sample.subarray(offset, offset + size));
        offset += size;
      }
      checkSample(feed(pieces));
    }
  });

  test("returns undefined until the empty line arrives", () => {
    const parser = new RequestHeadParser();
    assert.equal(
      parser.push(bytes("GET / HTTP/1.1\r\nHost: a\r\n")),
      undefined,
    );
    assert.equal(parser.push(bytes("\r")), undefined);
    const result = parser.push(bytes("\n"));
    assert.ok(result !== undefined);
    assert.equal(result.rest.length, 0);
  });

  test("rest is a copy, not a view into the caller's chunk", () => {
    const chunk = bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\nXY");
    const result = feed([chunk]);
    chunk.fill(0);
    assert.equal(decoder.decode(result.rest), "XY");
  });

  test("skips empty lines before the request line", () => {
    const result = parseText("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal(result.head.method, "GET");
  });

  test("accepts HTTP/1.0 without Host, obs-text in values", () => {
    const result = feed([
      concat(
        bytes("GET / HTTP/1.0\r\nX-Latin: caf"),
        new Uint8Array([0xe9]),
        bytes("\r\n\r\n"),
      ),
    ]);
    assert.equal(result.head.version, "HTTP/1.0");
    assert.equal(result.head.headers[0][1], "caf\u00e9");
  });

  test("a trickled head costs linear time", () => {
    // 16 KiB fed byte by byte: a parser that rescans from the start would
    // do ~134 million byte comparisons here; this must stay fast.
    const filler = "X-Fill: " + "a".repeat(200) + "\r\n";
    let text = "GET / HTTP/1.1\r\nHost: a\r\n";
    while (text.length + filler.length + 2 <= DEFAULTS.limits.maxHeadBytes) {
      text += filler;
    }
    const head = bytes(text + "\r\n");
    const parser = new RequestHeadParser();
    const started = performance.now();
    let result: ParsedHead | undefined;
    for (let i = 0; i < head.length; i++) {
      result = parser.push(head.subarray(i, i + 1));
    }
    const elapsed = performance.now() - started;
    assert.ok(result !== undefined);
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  });

  describe("400 for malformed heads", () => {
    const cases: Array<[string, string]> = [
      ["header without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"],
      ["space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"],
      ["tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"],
      ["non-token header name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n"],
      ["empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n"],
      ["CR without LF", "GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n"],
      ["bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n"],
      ["obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n\r\n"],
      ["whitespace before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"],
      ["NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"],
      [
        "control char in value",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
      ],
      ["DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n"],
      ["no target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n"],
      ["no method", " / HTTP/1.1\r\nHost: a\r\n\r\n"],
      ["non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n"],
      ["two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"],
      ["missing version", "GET /\r\nHost: a\r\n\r\n"],
      ["lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n"],
      ["version with two digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n"],
      ["version without minor", "GET / HTTP/2\r\nHost: a\r\n\r\n"],
      ["trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"],
      ["control char in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n"],
      ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX: 1\r\n\r\n"],
      ["two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"],
    ];
    for (const [name, text] of cases) {
      test(name, () => assertHttpError(() => parseText(text), 400));
    }

    test("non-ASCII byte in target", () => {
      const head = concat(
        bytes("GET /"),
        new Uint8Array([0xc3, 0xa9]),
        bytes(" HTTP/1.1\r\nHost: a\r\n\r\n"),
      );
      assertHttpError(() => feed([head]), 400);
    });

    test("bare CR is refused as soon as it is seen", () => {
      const parser = new RequestHeadParser();
      assert.equal(parser.push(bytes("GET / HTTP/1.1\r")), undefined);
      assertHttpError(() => parser.push(bytes("X")), 400);
    });
  });

  describe("400 at the first byte that cannot start a request", () => {
    /** Feeds `input` one byte at a time; returns how many bytes the parser
     * took before it refused with 400. */
    function refusedAfter(input: Uint8Array, status = 400): number {
      const parser = new RequestHeadParser();
      for (let i = 0; i < input.length; i++) {
        try {
          assert.equal(parser.push(input.subarray(i, i + 1)), undefined);
        } catch (error) {
          assert.ok(error instanceof HttpError, String(error));
          assert.equal(error.status, status, error.message);
          assert.equal(parser.bytesReceived, i + 1);
          return i + 1;
        }
      }
      throw new Error("never refused");
    }

    const latin1 = (text: string) =>
      Uint8Array.from(text, (character) => character.charCodeAt(0));
    // The start of a TLS 1.2 ClientHello record: handshake, TLS 1.0 record
    // version, length 0x0200, ClientHello, then more binary.
    const clientHello = new Uint8Array([
      0x16,
      0x03,
      0x01,
      0x02,
      0x00,
      0x01,
      0x00,
      0x01,
      0xfc,
      0x03,
      0x03,
    ]);
    const cases: Array<[string, Uint8Array, number]> = [
      ["a TLS ClientHello", clientHello, 1],
      ["binary after empty lines", latin1("\r\n\r\n\x00\xff\xfe"), 5],
      ["a NUL inside the method", latin1("GE\x00T / HTTP/1.1\r\n"), 3],
      ["a non-token byte in the method", latin1("GET/ HTTP/1.1\r\n"), 4],
      ["a space first", latin1(" GET / HTTP/1.1\r\n"), 1],
      ["a control byte in the target", latin1("GET /a\x7fb HTTP/1.1\r\n"), 7],
      ["a byte above 0x7F in the target", latin1("GET /\xc3\xa9 HTTP/1.1"), 6],
      ["a version that is not HTTP/", latin1("GET / XTTP/1.1\r\n"), 7],
      ["a version digit that is not one", latin1("GET / HTTP/x.1\r\n"), 12],
      ["a version that goes on", latin1("GET / HTTP/1.11\r\n"), 15],
      ["a space after the version", latin1("GET / HTTP/1.1 \r\n"), 15],
    ];
    for (const [name, input, expected] of cases) {
      test(`${name}: refused at byte ${expected}`, () => {
        assert.equal(refusedAfter(input), expected);
      });
    }

    test(`a method of DEFAULTS.limits.maxMethodLength (${DEFAULTS.limits.maxMethodLength}) bytes is served, one more byte is refused at once`, () => {
      const longest = "M".repeat(DEFAULTS.limits.maxMethodLength);
      const result = parseText(`${longest} / HTTP/1.1\r\nHost: a\r\n\r\n`);
      assert.equal(result.head.method, longest);
      // No space and no line end ever comes: the length alone refuses it.
      // RFC 9112 section 3: 501 for a method longer than any implemented.
      const endless = latin1("M".repeat(DEFAULTS.limits.maxMethodLength + 100));
      assert.equal(
        refusedAfter(endless, 501),
        DEFAULTS.limits.maxMethodLength + 1,
      );
    });

    test("a line with no target or no version is refused at its CRLF", () => {
      // An SSH banner is all token characters until its line ends.
      assert.equal(refusedAfter(latin1("SSH-2.0-OpenSSH_9.2\r\n")), 21);
      assert.equal(refusedAfter(latin1("GET /\r\n")), 7);
    });

    test("a refused parser takes no more bytes", () => {
      const parser = new RequestHeadParser();
      assertHttpError(() => parser.push(clientHello), 400);
      assert.equal(parser.bytesReceived, 1);
      assert.throws(() => parser.push(bytes("GET")), /already finished/);
    });
  });

  describe("505 for other versions", () => {
    test("HTTP/2 connection preface", () => {
      assertHttpError(
        () => parseText("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        505,
      );
    });
    for (const version of ["HTTP/0.9", "HTTP/1.2", "HTTP/2.0", "HTTP/3.0"]) {
      test(version, () => {
        assertHttpError(
          () => parseText(`GET / ${version}\r\nHost: a\r\n\r\n`),
          505,
        );
      });
    }
  });

  describe("limits", () => {
    /** A head of exactly `size` bytes, CRLFs and final empty line included. */
    function headOfSize(size: number): Uint8Array {
      const start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
      const end = "\r\n\r\n";
      const padding = size - start.length - end.length;
      return bytes(start + "p".repeat(padding) + end);
    }

    test(`a head of exactly DEFAULTS.limits.maxHeadBytes (${DEFAULTS.limits.maxHeadBytes}) passes`, () => {
      const head = headOfSize(DEFAULTS.limits.maxHeadBytes);
      assert.equal(head.length, DEFAULTS.limits.maxHeadBytes);
      const result = feed([concat(head, bytes("extra"))]);
      assert.equal(decoder.decode(result.rest), "extra");
    });

    test("a head one byte over DEFAULTS.limits.maxHeadBytes gives 431", () => {
      assertHttpError(
        () => feed([headOfSize(DEFAULTS.limits.maxHeadBytes + 1)]),
        431,
      );
    });

    test("431 arrives before the end of an endless head", () => {
      const parser = new RequestHeadParser();
      parser.push(bytes("GET / HTTP/1.1\r\nX: "));
      const filler = bytes("a".repeat(1000));
      assertHttpError(() => {
        for (let i = 0; i < 100; i++) parser.push(filler);
      }, 431);
    });

    test("empty lines before the request line count toward the limit", () => {
      const parser = new RequestHeadParser({ maxHeadBytes: 10 });
      assertHttpError(() => parser.push(bytes("\r\n".repeat(6))), 431);
    });

    function headWithHeaders(count: number): string {
      let text = "GET / HTTP/1.1\r\nHost: a\r\n";
      for (let i = 1; i < count; i++) text += `X-${i}: ${i}\r\n`;
      return text + "\r\n";
    }

    test(`exactly DEFAULTS.limits.maxHeaderCount (${DEFAULTS.limits.maxHeaderCount}) headers pass`, () => {
      const result = parseText(headWithHeaders(DEFAULTS.limits.maxHeaderCount));
      assert.equal(result.head.headers.length, DEFAULTS.limits.maxHeaderCount);
    });

    test("one header over DEFAULTS.limits.maxHeaderCount gives 431", () => {
      assertHttpError(
        () => parseText(headWithHeaders(DEFAULTS.limits.maxHeaderCount + 1)),
        431,
      );
    });

    test("configured limits apply", () => {
      const parser = new RequestHeadParser({ maxHeaderCount: 1 });
      assertHttpError(
        () => parser.push(bytes("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n")),
        431,
      );
    });
  });
});

describe("serializeResponseHead", () => {
  test("status line with the standard reason, headers, empty line", () => {
    const head = serializeResponseHead(404, "", [
      ["content-type", "text/plain"],
      ["x-a", "1"],
    ]);
    assert.equal(
      decoder.decode(head),
      "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nx-a: 1\r\n\r\n",
    );
  });

  test("a given reason phrase is kept", () => {
    const head = serializeResponseHead(200, "Fine Thanks", []);
    assert.equal(decoder.decode(head), "HTTP/1.1 200 Fine Thanks\r\n\r\n");
  });

  test("an unknown status gets an empty reason", () => {
    assert.equal(
      decoder.decode(serializeResponseHead(599, "", [])),
      "HTTP/1.1 599 \r\n\r\n",
    );
  });

  test("latin-1 values are written byte for byte", () => {
    const head = serializeResponseHead(200, "", [["x", "caf\u00e9"]]);
    const expected = concat(
      bytes("HTTP/1.1 200 OK\r\nx: caf"),
      new Uint8Array([0xe9]),
      bytes("\r\n\r\n"),
    );
    assert.deepEqual(head, expected);
  });

  const invalid: Array<[string, () => unknown]> = [
    [
      "CRLF in value",
      () => serializeResponseHead(200, "", [["x", "a\r\nSet-Cookie: evil"]]),
    ],
    ["LF in value", () => serializeResponseHead(200, "", [["x", "a\nb"]])],
    ["NUL in value", () => serializeResponseHead(200, "", [["x", "a\0b"]])],
    [
      "non-latin-1 value",
      () => serializeResponseHead(200, "", [["x", "\u20ac"]]),
    ],
    ["space in name", () => serializeResponseHead(200, "", [["x y", "1"]])],
    ["colon in name", () => serializeResponseHead(200, "", [["x:", "1"]])],
    ["empty name", () => serializeResponseHead(200, "", [["", "1"]])],
    ["CRLF in reason", () => serializeResponseHead(200, "OK\r\nX: 1", [])],
    ["status below 100", () => serializeResponseHead(99, "", [])],
    ["status above 999", () => serializeResponseHead(1000, "", [])],
    ["fractional status", () => serializeResponseHead(200.5, "", [])],
  ];
  for (const [name, action] of invalid) {
    test(`${name} is refused`, () => assert.throws(action, TypeError));
  }
});
