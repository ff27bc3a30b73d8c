/**
 * Fuzzing of the server side of the HTTP handshake: the request-head parser
 * and `validateUpgradeRequest`, with valid upgrade requests, requests
 * mutated field by field and byte by byte, and random bytes, split at
 * random points; the 16 KiB and 100-header limits, even byte by byte.
 * Cases per property: FUZZ_RUNS (default 20,000), fewer for the costly
 * ones; `deno task fuzz <count> http` for long runs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { HandshakeError } from "../../errors.ts";
import { validateUpgradeRequest } from "../../handshake.ts";
import type { RequestHead } from "../../http1/request.ts";
import { bytewise, concat, cutsArbitrary, split } from "./bytes.ts";
import { parameters, runs } from "./config.ts";
import {
  checkRequestHead,
  type HeadOutcome,
  isTokenText,
  parseRequest,
} from "./head_checks.ts";
import {
  latin1,
  RFC_KEY,
  serializeHead,
  upgradeRequestArbitrary,
} from "./http_heads.ts";
import { mutatedHeadArbitrary, trailerArbitrary } from "./mutated_heads.ts";
import { DEFAULTS } from "../../defaults.ts";

/** Statuses `validateUpgradeRequest` documents. */
const UPGRADE_STATUSES = new Set([400, 405, 426, 505]);

function headersOf(head: RequestHead): Headers {
  const headers = new Headers();
  // A parsed head must fit a Headers object: the server builds one from it.
  for (const [name, value] of head.headers) headers.append(name, value);
  return headers;
}

/** The request outcome, after the checks every outcome must pass. */
function checkRequestOutcome(
  bytes: Uint8Array,
  cutsA: number[],
  cutsB: number[],
): HeadOutcome<RequestHead> {
  const whole = parseRequest([bytes]);
  assert.deepEqual(parseRequest(split(bytes, cutsA)), whole);
  assert.deepEqual(parseRequest(split(bytes, cutsB)), whole);
  if (whole.kind === "head") {
    checkRequestHead(whole.head, whole.consumed);
    assert.deepEqual(whole.rest, bytes.subarray(whole.consumed));
    checkUpgrade(whole.head);
  }
  return whole;
}

/** validateUpgradeRequest refuses only with its documented statuses. */
function checkUpgrade(head: RequestHead): void {
  try {
    const upgrade = validateUpgradeRequest({
      method: head.method,
      httpVersion: head.version.slice(5),
      headers: headersOf(head),
    });
    assert.equal(head.method, "GET");
    assert.equal(head.version, "HTTP/1.1");
    assert.equal(upgrade.key.length, 24);
    for (const protocol of upgrade.protocols) assert.ok(isTokenText(protocol));
  } catch (error) {
    assert.ok(
      error instanceof HandshakeError,
      `not a HandshakeError: ${error}`,
    );
    assert.ok(
      UPGRADE_STATUSES.has(error.status),
      `status ${error.status}: ${error.message}`,
    );
  }
}

describe("fuzz: request heads (server)", () => {
  test("valid upgrade requests parse and validate, split anywhere", () => {
    fc.assert(
      fc.property(
        upgradeRequestArbitrary,
        trailerArbitrary,
        cutsArbitrary,
        (spec, trailer, cuts) => {
          const bytes = concat([serializeHead(spec), trailer]);
          const outcome = parseRequest(split(bytes, cuts));
          assert.equal(outcome.kind, "head", JSON.stringify(outcome));
          if (outcome.kind !== "head") return;
          assert.deepEqual(outcome.rest, trailer);
          checkRequestHead(outcome.head, outcome.consumed);
          const sent = spec.headers.map((
            { name, value },
          ) => [name, value.trim()]);
          assert.deepEqual(outcome.head.headers, sent);
          const upgrade = validateUpgradeRequest({
            method: outcome.head.method,
            httpVersion: "1.1",
            headers: headersOf(outcome.head),
          });
          const key = sent.find(([name]) =>
            name.toLowerCase() === "sec-websocket-key"
          );
          assert.equal(upgrade.key, key?.[1]);
        },
      ),
      parameters(runs(4)),
    );
  });

  test("mutated requests: a well-formed head or HttpError 400/431/505, the same however split", () => {
    fc.assert(
      fc.property(
        mutatedHeadArbitrary(upgradeRequestArbitrary),
        cutsArbitrary,
        cutsArbitrary,
        (bytes, cutsA, cutsB) => {
          checkRequestOutcome(bytes, cutsA, cutsB);
        },
      ),
      parameters(runs(2)),
    );
  });

  test("random bytes after a plausible start: the same invariants", () => {
    const start = fc.constantFrom(
      "",
      "GET / HTTP/1.1\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\n",
      "\r\n",
    );
    fc.assert(
      fc.property(
        start,
        fc.uint8Array({ maxLength: 200 }),
        cutsArbitrary,
        cutsArbitrary,
        (prefix, tail, cutsA, cutsB) => {
          checkRequestOutcome(concat([latin1(prefix), tail]), cutsA, cutsB);
        },
      ),
      parameters(runs(2)),
    );
  });

  /** A valid request padded past 16 KiB: one huge header, a long target or
   * many headers, the padding at a random place among the headers. */
  const oversizedArbitrary = fc.record({
    spec: upgradeRequestArbitrary,
    how: fc.constantFrom("value", "target", "headers"),
    excess: fc.integer({ min: 1, max: 8000 }),
    at: fc.nat(),
  }).map(({ spec, how, excess, at }) => {
    const base = serializeHead(spec).length;
    const needed = DEFAULTS.limits.maxHeadBytes - base + excess;
    const headers = [...spec.headers];
    let startLine = spec.startLine;
    if (how === "value") {
      headers.splice(at % (headers.length + 1), 0, {
        name: "X-Pad",
        value: "a".repeat(needed),
      });
    } else if (how === "target") {
      startLine = startLine.replace("GET /", `GET /${"t".repeat(needed)}`);
    } else {
      for (let i = 0, added = 0; added < needed; i++) {
        const name = `X-Pad-${i}`;
        headers.splice((at + i) % (headers.length + 1), 0, {
          name,
          value: "p".repeat(30),
        });
        added += name.length + ": ".length + 30 + "\r\n".length;
      }
    }
    const bytes = serializeHead({ ...spec, startLine, headers });
    assert.ok(bytes.length > DEFAULTS.limits.maxHeadBytes);
    return bytes;
  });

  test("a head over 16 KiB fails with 431 by byte 16,385, even trickled byte by byte", () => {
    fc.assert(
      fc.property(oversizedArbitrary, cutsArbitrary, (bytes, cuts) => {
        for (const pieces of [split(bytes, cuts), bytewise(bytes)]) {
          const outcome = parseRequest(pieces);
          assert.equal(outcome.kind, "error");
          if (outcome.kind === "error") {
            assert.equal(outcome.status, 431, outcome.message);
            assert.ok(outcome.consumed <= DEFAULTS.limits.maxHeadBytes);
          }
        }
      }),
      parameters(runs(400, 30)),
    );
  });

  test("over 100 header lines within 16 KiB fail with 431, even trickled byte by byte", () => {
    const arbitrary = fc.record({
      spec: upgradeRequestArbitrary,
      extra: fc.integer({ min: 1, max: 300 }),
      at: fc.nat(),
    }).map(({ spec, extra, at }) => {
      const headers = [...spec.headers];
      while (headers.length < DEFAULTS.limits.maxHeaderCount + extra) {
        headers.splice(at % (headers.length + 1), 0, {
          name: `X-${headers.length}`,
          value: "v",
        });
      }
      return serializeHead({ ...spec, headers });
    });
    fc.assert(
      fc.property(arbitrary, cutsArbitrary, (bytes, cuts) => {
        assert.ok(bytes.length <= DEFAULTS.limits.maxHeadBytes);
        for (const pieces of [split(bytes, cuts), bytewise(bytes)]) {
          const outcome = parseRequest(pieces);
          assert.equal(outcome.kind, "error");
          if (outcome.kind === "error") {
            assert.equal(outcome.status, 431, outcome.message);
            assert.ok(outcome.consumed <= DEFAULTS.limits.maxHeadBytes);
          }
        }
      }),
      parameters(runs(100, 30)),
    );
  });

  test("exactly 16,384 bytes and exactly 100 headers are accepted; one more is not", () => {
    const base = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (const extra of [0, 1]) {
      const padding = DEFAULTS.limits.maxHeadBytes - base.length -
        "X: \r\n\r\n".length +
        extra;
      const bytes = latin1(`${base}X: ${"a".repeat(padding)}\r\n\r\n`);
      assert.equal(bytes.length, DEFAULTS.limits.maxHeadBytes + extra);
      const outcome = parseRequest(bytewise(bytes));
      assert.equal(outcome.kind, extra === 0 ? "head" : "error");
      if (outcome.kind === "error") assert.equal(outcome.status, 431);
    }
    for (const extra of [0, 1]) {
      let text = base;
      for (let i = 1; i < DEFAULTS.limits.maxHeaderCount + extra; i++) {
        text += `X-${i}: v\r\n`;
      }
      const outcome = parseRequest(bytewise(latin1(text + "\r\n")));
      assert.equal(outcome.kind, extra === 0 ? "head" : "error");
      if (outcome.kind === "error") assert.equal(outcome.status, 431);
    }
  });
});

/** Header names validateUpgradeRequest reads, in several cases. */
const upgradeHeaderName = fc.constantFrom(
  "Host",
  "host",
  "Upgrade",
  "Connection",
  "CONNECTION",
  "Sec-WebSocket-Key",
  "sec-websocket-key",
  "Sec-WebSocket-Version",
  "Sec-WebSocket-Protocol",
  "Sec-WebSocket-Extensions",
  "X-Other",
);

/** Values near the valid ones, with the characters a Headers object keeps. */
const upgradeHeaderValue = fc.oneof(
  fc.constantFrom(
    "",
    "a",
    "websocket",
    "WebSocket, h2c",
    "Upgrade",
    "keep-alive,upgrade",
    "upgrade,",
    ",",
    RFC_KEY,
    "dGhlIHNhbXBsZSBub25jZR==",
    "dGhlIHNhbXBsZSBub25jZQ=",
    "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==",
    "13",
    "13, 13",
    "8",
    "013",
    "chat, chat",
    "chat,,superchat",
    "ch\xe9t",
    "__proto__",
    "constructor, toString",
    'permessage-deflate; a="',
  ),
  fc.array(fc.constantFrom(...'aZ09=+/,; \t"\\-_\xe9\xff'), { maxLength: 30 })
    .map((chars) => chars.join("")),
);

describe("fuzz: validateUpgradeRequest", () => {
  test("fuzzed methods, versions and headers: a result or HandshakeError 400/405/426/505", () => {
    const request = fc.record({
      method: fc.constantFrom("GET", "get", "POST", "HEAD", "", "G\xe9T"),
      httpVersion: fc.option(
        fc.constantFrom(
          "1.1",
          "1.0",
          "2",
          "1.",
          "",
          "1.10",
          "1.01",
          "11.1",
          "1.1 ",
          "0.9",
        ),
        { nil: undefined },
      ),
      headers: fc.array(fc.tuple(upgradeHeaderName, upgradeHeaderValue), {
        maxLength: 10,
      }),
      complete: fc.boolean(),
    });
    fc.assert(
      fc.property(request, ({ method, httpVersion, headers, complete }) => {
        const init = new Headers();
        if (complete) {
          init.set("Host", "a");
          init.set("Upgrade", "websocket");
          init.set("Connection", "Upgrade");
          init.set("Sec-WebSocket-Key", RFC_KEY);
          init.set("Sec-WebSocket-Version", "13");
        }
        for (const [name, value] of headers) init.append(name, value);
        try {
          const upgrade = validateUpgradeRequest({
            method,
            httpVersion,
            headers: init,
          });
          assert.equal(method, "GET");
          assert.equal(upgrade.key, RFC_KEY);
          assert.equal(
            upgrade.extensionsHeader,
            init.get("sec-websocket-extensions"),
          );
        } catch (error) {
          assert.ok(
            error instanceof HandshakeError,
            `not a HandshakeError: ${error}`,
          );
          assert.ok(
            UPGRADE_STATUSES.has(error.status),
            `status ${error.status}`,
          );
          if (error.status === 405) {
            assert.deepEqual(error.headers, [["Allow", "GET"]]);
          }
          if (error.status === 426) {
            assert.deepEqual(error.headers, [["Sec-WebSocket-Version", "13"]]);
          }
        }
      }),
      parameters(runs(2)),
    );
  });
});
