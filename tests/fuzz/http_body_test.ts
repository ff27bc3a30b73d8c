/**
 * Fuzzing of request body framing (RFC 9112 section 6): the chunked and
 * Content-Length decoders with valid, broken and mutated bodies split at
 * random points, and `requestBodyFraming` with fuzzed Transfer-Encoding
 * and Content-Length values against an oracle written from RFC 9110/9112.
 * Cases per property: FUZZ_RUNS (default 20,000), fewer for the costly
 * ones; `deno task fuzz <count> http` for long runs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { HttpError } from "../../errors.ts";
import type { RequestHead } from "../../http1/request.ts";
import {
  type BodyFraming,
  LengthBodyDecoder,
  requestBodyFraming,
} from "../../http1/body.ts";
import {
  byteMutationArbitrary,
  concat,
  cutsArbitrary,
  mutateAll,
  split,
} from "./bytes.ts";
import {
  bodyBreakArbitrary,
  bodyData,
  chunkedArbitrary,
  decodeChunked,
  serializeChunked,
} from "./chunked_bodies.ts";
import { parameters, runs } from "./config.ts";
import { latin1 } from "./http_heads.ts";
import { DEFAULTS } from "../../defaults.ts";

/** What follows a body: nothing, or the next pipelined request. */
const nextRequestArbitrary = fc.constantFrom(
  new Uint8Array(0),
  latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
  latin1("\r\n"),
);

describe("fuzz: chunked request bodies", () => {
  test("valid bodies decode to their data and leave the next request, split anywhere", () => {
    fc.assert(
      fc.property(
        chunkedArbitrary,
        nextRequestArbitrary,
        fc.nat(3),
        cutsArbitrary,
        (spec, next, slack, cuts) => {
          const data = bodyData(spec);
          const bytes = concat([serializeChunked(spec), next]);
          // The limit is inclusive: a body of exactly the limit is accepted.
          const outcome = decodeChunked(
            split(bytes, cuts),
            data.length + slack,
          );
          assert.deepEqual(outcome, { kind: "done", data, rest: next });
        },
      ),
      parameters(runs(2)),
    );
  });

  test("a body over the limit fails with 413, never yielding more than the limit", () => {
    fc.assert(
      fc.property(
        chunkedArbitrary.filter((spec) => bodyData(spec).length > 0),
        fc.nat(),
        cutsArbitrary,
        (spec, under, cuts) => {
          const length = bodyData(spec).length;
          const limit = under % length;
          const outcome = decodeChunked(
            split(serializeChunked(spec), cuts),
            limit,
          );
          assert.equal(outcome.kind, "error");
          if (outcome.kind === "error") assert.equal(outcome.status, 413);
        },
      ),
      parameters(runs(4)),
    );
  });

  test("broken and mutated bodies: HttpError 400/413/431 or a decoded body, the same however split", () => {
    const broken = fc.record({
      spec: chunkedArbitrary,
      breaks: fc.array(bodyBreakArbitrary, { maxLength: 2 }),
      mutations: fc.array(byteMutationArbitrary, { maxLength: 2 }),
      limit: fc.constantFrom(16, 1000, DEFAULTS.limits.maxBodyBytes),
    }).map(({ spec, breaks, mutations, limit }) => {
      let bytes = serializeChunked(spec);
      for (const { at, text } of breaks) {
        const position = at % (bytes.length + 1);
        bytes = concat([
          bytes.subarray(0, position),
          latin1(text),
          bytes.subarray(position),
        ]);
      }
      return { bytes: mutateAll(bytes, mutations), limit };
    });
    fc.assert(
      fc.property(
        broken,
        cutsArbitrary,
        cutsArbitrary,
        ({ bytes, limit }, cutsA, cutsB) => {
          const whole = decodeChunked([bytes.slice()], limit);
          assert.deepEqual(decodeChunked(split(bytes, cutsA), limit), whole);
          assert.deepEqual(decodeChunked(split(bytes, cutsB), limit), whole);
          if (whole.kind === "done") {
            // The body ends exactly where the rest begins.
            assert.deepEqual(
              whole.rest,
              bytes.subarray(bytes.length - whole.rest.length),
            );
          }
        },
      ),
      parameters(runs(2)),
    );
  });
});

describe("fuzz: Content-Length bodies", () => {
  test("exactly `length` bytes are body, the rest is the next request", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(300),
        cutsArbitrary,
        (bytes, wanted, cuts) => {
          const length = Math.min(wanted, bytes.length);
          const decoder = new LengthBodyDecoder(length);
          const data: Uint8Array[] = [];
          let rest: Uint8Array | null = null;
          for (const piece of split(bytes, cuts)) {
            if (rest !== null) {
              rest = concat([rest, piece]);
              continue;
            }
            const progress = decoder.push(piece);
            data.push(...progress.data.map((part) => part.slice()));
            rest = progress.rest === null ? null : progress.rest.slice();
          }
          if (length === 0 && rest === null) rest = new Uint8Array(0);
          assert.deepEqual(concat(data), bytes.subarray(0, length));
          assert.deepEqual(rest, bytes.subarray(length));
          assert.equal(decoder.done, true);
          assert.equal(decoder.received, length);
        },
      ),
      parameters(runs(2)),
    );
  });
});

/** OWS (RFC 9110 section 5.6.3) is spaces and tabs, nothing else. */
function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === " " || text[start] === "\t")) start++;
  while (end > start && (text[end - 1] === " " || text[end - 1] === "\t")) {
    end--;
  }
  return text.slice(start, end);
}

/** The list elements of header values (RFC 9110 section 5.6.1). */
function listElements(values: readonly string[]): string[] {
  const elements: string[] = [];
  for (const value of values) {
    for (const element of value.split(",")) {
      const trimmed = trimOws(element);
      if (trimmed !== "") elements.push(trimmed);
    }
  }
  return elements;
}

/** The oracle: the framing RFC 9112 section 6.3 gives, or the refusal
 * status class ("refused" for 400/501, "too large" for 413). */
function expectedFraming(
  head: RequestHead,
  maxBodyBytes: number,
): BodyFraming | "refused" | "too large" {
  const values = (wanted: string) =>
    head.headers.filter(([name]) => name.toLowerCase() === wanted).map((
      [, value],
    ) => value);
  const codings = values("transfer-encoding");
  const lengths = values("content-length");
  if (codings.length > 0) {
    if (lengths.length > 0 || head.version === "HTTP/1.0") return "refused";
    const elements = listElements(codings).map((coding) =>
      coding.toLowerCase()
    );
    return elements.length === 1 && elements[0] === "chunked"
      ? { kind: "chunked" }
      : "refused";
  }
  if (lengths.length === 0) return { kind: "none" };
  let length: number | undefined;
  for (const value of lengths) {
    for (const element of value.split(",")) {
      const digits = trimOws(element);
      if (digits.length === 0 || digits.length > 15) return "refused";
      for (const digit of digits) {
        if (digit < "0" || digit > "9") return "refused";
      }
      if (length !== undefined && Number(digits) !== length) return "refused";
      length = Number(digits);
    }
  }
  if (length === undefined) return "refused";
  if (length > maxBodyBytes) return "too large";
  return length === 0 ? { kind: "none" } : { kind: "length", length };
}

const TRANSFER_ENCODINGS = [
  "chunked",
  "CHUNKED",
  " chunked\t",
  "gzip, chunked",
  "chunked, gzip",
  "chunked, chunked",
  "chunked,",
  ",chunked",
  "identity",
  "",
  ",",
  "chunked;q=1",
  '"chunked"',
  "chunked\xa0",
  "\xa0chunked",
  "chunk\xe9d",
];
const CONTENT_LENGTHS = [
  "0",
  "5",
  "10",
  "10, 10",
  "10,11",
  " 7 ",
  "+1",
  "-1",
  "1e3",
  "0x10",
  "",
  ",",
  "1 000",
  "999999999999999",
  "9999999999999999",
  "00000000000000000001",
  "1048576",
  "1048577",
  "5\xa0",
  "\xa05",
];

describe("fuzz: requestBodyFraming", () => {
  const headArbitrary = fc.record({
    version: fc.constantFrom<RequestHead["version"]>("HTTP/1.1", "HTTP/1.0"),
    headers: fc.array(
      fc.oneof(
        fc.tuple(
          fc.constantFrom("Transfer-Encoding", "transfer-encoding"),
          fc.constantFrom(...TRANSFER_ENCODINGS),
        ),
        fc.tuple(
          fc.constantFrom("Content-Length", "CONTENT-LENGTH"),
          fc.constantFrom(...CONTENT_LENGTHS),
        ),
        fc.tuple(fc.constant("X-Other"), fc.constantFrom("chunked", "5")),
      ),
      { maxLength: 3 },
    ),
  }).map(({ version, headers }): RequestHead => ({
    method: "POST",
    target: "/",
    version,
    headers: [["Host", "a"], ...headers],
  }));

  function check(head: RequestHead): void {
    const expected = expectedFraming(head, DEFAULTS.limits.maxBodyBytes);
    let framing: BodyFraming;
    try {
      framing = requestBodyFraming(head);
    } catch (error) {
      assert.ok(error instanceof HttpError, `not an HttpError: ${error}`);
      const status = error.status;
      assert.ok([400, 413, 501].includes(status), `status ${status}`);
      assert.equal(
        expected,
        status === 413 ? "too large" : "refused",
        JSON.stringify(head.headers),
      );
      return;
    }
    assert.deepEqual(framing, expected, JSON.stringify(head.headers));
  }

  test(
    "only the framings RFC 9112 section 6.3 gives (OWS is SP and HTAB only), or 400/413/501",
    () => {
      // U+00A0 (the obs-text byte 0xA0) is not OWS: "chunked\xa0" or
      // "5\xa0" must be refused, or a front proxy that does not see
      // "chunked" there frames the request differently (request smuggling).
      fc.assert(fc.property(headArbitrary, check), parameters(runs(2)));
    },
  );

  test("the same without 0xA0 in the values: exactly the RFC framings", () => {
    const withoutNbsp = headArbitrary.filter((head) =>
      head.headers.every(([, value]) => !value.includes("\xa0"))
    );
    fc.assert(fc.property(withoutNbsp, check), parameters(runs(2)));
  });

  test("0xA0 around chunked or a length is not whitespace", () => {
    const cases = [
      ["Transfer-Encoding", "chunked\xa0"],
      ["Transfer-Encoding", "\xa0chunked"],
      ["Content-Length", "5\xa0"],
    ];
    for (const [name, value] of cases) {
      const head: RequestHead = {
        method: "POST",
        target: "/",
        version: "HTTP/1.1",
        headers: [["Host", "a"], [name, value]],
      };
      assert.throws(
        () => requestBodyFraming(head),
        (error) => error instanceof HttpError && error.status === 400,
        `${name}: ${JSON.stringify(value)}`,
      );
    }
  });
});
