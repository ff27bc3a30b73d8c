import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { concat } from "../../support/bytes.ts";
import { HttpError } from "../../../errors.ts";
import { type RequestHead, RequestHeadParser } from "../../../http1/request.ts";
import {
  type BodyDecoder,
  ChunkedBodyDecoder,
  encodeChunk,
  LAST_CHUNK,
  LengthBodyDecoder,
  requestBodyFraming,
} from "../../../http1/body.ts";
import { DEFAULTS } from "../../../defaults.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function assertHttpError(action: () => unknown, status: number): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof HttpError, `expected HttpError, got ${error}`);
    assert.equal(error.status, status, error.message);
    return true;
  });
}

function headOf(text: string): RequestHead {
  const result = new RequestHeadParser().push(bytes(text));
  assert.ok(result !== undefined, "incomplete head");
  return result.head;
}

describe("requestBodyFraming", () => {
  test("no body without Content-Length or Transfer-Encoding", () => {
    assert.deepEqual(
      requestBodyFraming(headOf("GET / HTTP/1.1\r\nHost: a\r\n\r\n")),
      { kind: "none" },
    );
  });

  test("Content-Length", () => {
    const head = headOf(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n",
    );
    assert.deepEqual(requestBodyFraming(head), { kind: "length", length: 42 });
  });

  test("Content-Length 0 is no body", () => {
    const head = headOf(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    );
    assert.deepEqual(requestBodyFraming(head), { kind: "none" });
  });

  test("identical duplicate Content-Length is accepted", () => {
    const lines = headOf(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
    );
    assert.deepEqual(requestBodyFraming(lines), { kind: "length", length: 5 });
    const list = headOf(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
    );
    assert.deepEqual(requestBodyFraming(list), { kind: "length", length: 5 });
  });

  test("chunked", () => {
    const head = headOf(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
    );
    assert.deepEqual(requestBodyFraming(head), { kind: "chunked" });
  });

  const refused: Array<[string, string, number]> = [
    [
      "conflicting Content-Length lines",
      "Content-Length: 5\r\nContent-Length: 6",
      400,
    ],
    ["conflicting Content-Length list", "Content-Length: 5, 6", 400],
    ["Content-Length with sign", "Content-Length: +5", 400],
    ["negative Content-Length", "Content-Length: -1", 400],
    ["hex Content-Length", "Content-Length: 0x10", 400],
    ["empty Content-Length", "Content-Length:", 400],
    ["Content-Length with inner space", "Content-Length: 1 2", 400],
    ["huge Content-Length", "Content-Length: 99999999999999999999", 400],
    [
      "CL + TE (smuggling)",
      "Content-Length: 5\r\nTransfer-Encoding: chunked",
      400,
    ],
    [
      "TE + CL (smuggling)",
      "Transfer-Encoding: chunked\r\nContent-Length: 5",
      400,
    ],
    ["chunked not last", "Transfer-Encoding: chunked, gzip", 400],
    ["unknown final coding", "Transfer-Encoding: gzip", 400],
    [
      "chunked twice",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
      400,
    ],
    [
      "unsupported coding before chunked",
      "Transfer-Encoding: gzip, chunked",
      501,
    ],
    ["empty Transfer-Encoding", "Transfer-Encoding: ", 400],
    [
      "Content-Length over the body limit",
      `Content-Length: ${DEFAULTS.limits.maxBodyBytes + 1}`,
      413,
    ],
  ];
  for (const [name, lines, status] of refused) {
    test(`${name} -> ${status}`, () => {
      const head = headOf(`POST / HTTP/1.1\r\nHost: a\r\n${lines}\r\n\r\n`);
      assertHttpError(() => requestBodyFraming(head), status);
    });
  }

  test("Content-Length of exactly the body limit passes", () => {
    const head = headOf(
      `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${DEFAULTS.limits.maxBodyBytes}\r\n\r\n`,
    );
    assert.deepEqual(requestBodyFraming(head), {
      kind: "length",
      length: DEFAULTS.limits.maxBodyBytes,
    });
  });

  test("Transfer-Encoding in HTTP/1.0 -> 400", () => {
    const head = headOf(
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assertHttpError(() => requestBodyFraming(head), 400);
  });
});

/** Run `pieces` through a decoder: the body text and the bytes after it. */
function decodeAll(
  bodyDecoder: BodyDecoder,
  pieces: Uint8Array[],
): { body: string; rest: string | null } {
  const data: Uint8Array[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const progress = bodyDecoder.push(pieces[i]);
    for (const part of progress.data) data.push(part.slice());
    if (progress.rest !== null) {
      assert.ok(bodyDecoder.done);
      const rest = concat(progress.rest, ...pieces.slice(i + 1));
      return { body: joinText(data), rest: joinText([rest]) };
    }
  }
  return { body: joinText(data), rest: null };
}

function joinText(parts: Uint8Array[]): string {
  return decoder.decode(concat(...parts));
}

describe("LengthBodyDecoder", () => {
  test("stops at the length at every split point", () => {
    const input = bytes("hello worldNEXT");
    for (let split = 0; split <= input.length; split++) {
      const result = decodeAll(new LengthBodyDecoder(11), [
        input.subarray(0, split),
        input.subarray(split),
      ]);
      assert.deepEqual(result, { body: "hello world", rest: "NEXT" });
    }
  });

  test("waits for more", () => {
    const body = new LengthBodyDecoder(5);
    const progress = body.push(bytes("abc"));
    assert.equal(progress.rest, null);
    assert.equal(body.done, false);
    assert.equal(body.remaining, 2);
  });
});

describe("ChunkedBodyDecoder", () => {
  const encoded = "5\r\nhello\r\n" +
    "1;name=value;flag\r\n \r\n" +
    'A  ; ext="quoted"\r\n0123456789\r\n' +
    "0\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n" +
    "GET /next";
  const expected = { body: "hello 0123456789", rest: "GET /next" };
  const input = bytes(encoded);

  test("decodes in one piece", () => {
    assert.deepEqual(decodeAll(new ChunkedBodyDecoder(), [input]), expected);
  });

  test("decodes split at every byte", () => {
    for (let split = 0; split <= input.length; split++) {
      const result = decodeAll(new ChunkedBodyDecoder(), [
        input.subarray(0, split),
        input.subarray(split),
      ]);
      assert.deepEqual(result, expected, `split at ${split}`);
    }
  });

  test("decodes byte by byte", () => {
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < input.length; i++) {
      pieces.push(input.subarray(i, i + 1));
    }
    assert.deepEqual(decodeAll(new ChunkedBodyDecoder(), pieces), expected);
  });

  test("a body without trailers", () => {
    const result = decodeAll(new ChunkedBodyDecoder(), [
      bytes("3\r\nabc\r\n0\r\n\r\n"),
    ]);
    assert.deepEqual(result, { body: "abc", rest: "" });
  });

  test("round-trips encodeChunk output", () => {
    const wire = concat(
      encodeChunk(bytes("first ")),
      encodeChunk(new Uint8Array(0)),
      encodeChunk(bytes("x".repeat(300))),
      LAST_CHUNK,
    );
    assert.ok(decoder.decode(wire).startsWith("6\r\nfirst \r\n12c\r\n"));
    const result = decodeAll(new ChunkedBodyDecoder(), [wire]);
    assert.deepEqual(result, { body: "first " + "x".repeat(300), rest: "" });
  });

  const malformed: Array<[string, string, number]> = [
    ["no size", "\r\nabc\r\n0\r\n\r\n", 400],
    ["non-hex size", "g\r\n", 400],
    ["negative size", "-1\r\n", 400],
    ["bare LF after size", "3\nabc\r\n0\r\n\r\n", 400],
    ["data longer than size", "3\r\nabcd\r\n0\r\n\r\n", 400],
    ["data not followed by CRLF", "3\r\nabcX\n", 400],
    ["control char in extension", "3;a\x01\r\nabc\r\n", 400],
    ["bare LF in trailer", "0\r\nX: 1\n\r\n", 400],
    [
      "chunk over the body limit",
      `${(DEFAULTS.limits.maxBodyBytes + 1).toString(16)}\r\n`,
      413,
    ],
    ["huge size", "ffffffffffffffffffff\r\n", 413],
  ];
  for (const [name, text, status] of malformed) {
    test(`${name} -> ${status}`, () => {
      assertHttpError(
        () => decodeAll(new ChunkedBodyDecoder(), [bytes(text)]),
        status,
      );
    });
  }

  test("the sum of chunks over the body limit -> 413", () => {
    const body = new ChunkedBodyDecoder(10);
    body.push(bytes("6\r\nabcdef\r\n"));
    assertHttpError(() => body.push(bytes("5\r\n")), 413);
  });

  test("exactly the body limit passes", () => {
    const result = decodeAll(new ChunkedBodyDecoder(10), [
      bytes("6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n"),
    ]);
    assert.deepEqual(result, { body: "abcdefghij", rest: "" });
  });

  test(`size line of exactly DEFAULTS.limits.maxChunkLineBytes (${DEFAULTS.limits.maxChunkLineBytes}) passes, one more fails`, () => {
    const extension = (length: number) => "1;" + "e".repeat(length - 2);
    const fits = `${
      extension(DEFAULTS.limits.maxChunkLineBytes)
    }\r\nx\r\n0\r\n\r\n`;
    assert.deepEqual(decodeAll(new ChunkedBodyDecoder(), [bytes(fits)]), {
      body: "x",
      rest: "",
    });
    const tooLong = `${
      extension(DEFAULTS.limits.maxChunkLineBytes + 1)
    }\r\nx\r\n0\r\n\r\n`;
    assertHttpError(
      () => decodeAll(new ChunkedBodyDecoder(), [bytes(tooLong)]),
      400,
    );
  });

  test("leading zeros count toward the size line limit", () => {
    const zeros = "0".repeat(DEFAULTS.limits.maxChunkLineBytes) + "1\r\nx\r\n";
    assertHttpError(
      () => decodeAll(new ChunkedBodyDecoder(), [bytes(zeros)]),
      400,
    );
  });

  test(`trailers of exactly DEFAULTS.limits.maxTrailerBytes (${DEFAULTS.limits.maxTrailerBytes}) pass, one more gives 431`, () => {
    // Trailer section = one field line + CRLF + the final CRLF.
    const trailer = (size: number) =>
      "X: " + "t".repeat(size - 3 - 4) + "\r\n\r\n";
    assert.equal(
      trailer(DEFAULTS.limits.maxTrailerBytes).length,
      DEFAULTS.limits.maxTrailerBytes,
    );
    const fits = decodeAll(new ChunkedBodyDecoder(), [
      bytes("0\r\n" + trailer(DEFAULTS.limits.maxTrailerBytes)),
    ]);
    assert.deepEqual(fits, { body: "", rest: "" });
    assertHttpError(
      () =>
        decodeAll(new ChunkedBodyDecoder(), [
          bytes("0\r\n" + trailer(DEFAULTS.limits.maxTrailerBytes + 1)),
        ]),
      431,
    );
  });
});
