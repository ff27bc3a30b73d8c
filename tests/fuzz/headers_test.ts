/**
 * Fuzzing of the WebSocket list headers and the permessage-deflate
 * negotiation: `parseExtensions`, `parseProtocols`, `negotiateDeflate`,
 * `describeDeclinedOffers`, `evaluateDeflateOffer` and
 * `acceptDeflateResponse` on well-formed, mutated and grammar-soup values.
 * Only HandshakeErrors (or declined offers) may come out, results use Maps,
 * no prototype changes, and 16 KiB pathological values finish (a quadratic
 * parser would make this file visibly slow). Cases per property: FUZZ_RUNS
 * (default 20,000); `deno task fuzz <count> headers` for long runs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  acceptDeflateResponse,
  describeDeclinedOffers,
  evaluateDeflateOffer,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
} from "../../deflate/negotiation.ts";
import { HandshakeError } from "../../errors.ts";
import {
  type ExtensionOffer,
  formatExtensions,
  formatProtocols,
  listContainsToken,
  parseExtensions,
  parseProtocols,
} from "../../http1/header_grammar.ts";
import { validateUpgradeRequest } from "../../handshake.ts";
import { parameters, runs } from "./config.ts";
import { isTokenText } from "./head_checks.ts";
import {
  extensionValueArbitrary,
  grammarSoupArbitrary,
  mutateText,
  nameArbitrary,
  pathologicalValues,
  prototypeSnapshot,
  textMutationArbitrary,
  wellFormedExtensionsArbitrary,
} from "./header_values.ts";
import { DEFAULTS } from "../../defaults.ts";

const PROTOTYPES_BEFORE = prototypeSnapshot();

/** Strips spaces and tabs (only those) from both ends. */
function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === " " || text[start] === "\t")) start++;
  while (end > start && (text[end - 1] === " " || text[end - 1] === "\t")) {
    end--;
  }
  return text.slice(start, end);
}

/** Nothing reached a shared prototype. */
function assertNoPollution(): void {
  const plain: Record<string, unknown> = {};
  assert.equal(plain.polluted, undefined);
  assert.equal(plain.permessage, undefined);
  assert.equal(Object.getPrototypeOf(plain), Object.prototype);
  assert.equal(typeof plain.toString, "function");
  assert.equal(typeof plain.hasOwnProperty, "function");
  assert.equal(prototypeSnapshot(), PROTOTYPES_BEFORE);
}

/** `parseExtensions`, or the HandshakeError(400) it may throw. */
function tryParseExtensions(value: string): ExtensionOffer[] | HandshakeError {
  try {
    return parseExtensions(value);
  } catch (error) {
    assert.ok(
      error instanceof HandshakeError,
      `not a HandshakeError: ${error}`,
    );
    assert.equal(error.status, 400);
    return error;
  }
}

/** A parse result is a non-empty list of plain {name, params: Map}. */
function checkOffers(offers: ExtensionOffer[]): void {
  assert.ok(offers.length > 0);
  for (const offer of offers) {
    assert.deepEqual(Object.keys(offer).sort(), ["name", "params"]);
    assert.ok(isTokenText(offer.name));
    assert.ok(offer.params instanceof Map);
    assert.equal(Object.getPrototypeOf(offer.params), Map.prototype);
    for (const [name, value] of offer.params) {
      assert.ok(isTokenText(name), `parameter ${JSON.stringify(name)}`);
      assert.ok(
        value === true || isTokenText(value),
        `value ${JSON.stringify(value)}`,
      );
    }
  }
}

/** The server's answer is one our own client accepts, and says exactly
 * what the returned parameters say. */
function checkNegotiation(value: string): void {
  const negotiation = negotiateDeflate(value);
  const declined = describeDeclinedOffers(value);
  assert.ok(Array.isArray(declined));
  for (const reason of declined) assert.equal(typeof reason, "string");
  if (negotiation === undefined) return;
  assert.ok(value.includes(PERMESSAGE_DEFLATE));
  const answer = parseExtensions(negotiation.response);
  assert.equal(answer.length, 1);
  assert.equal(answer[0].name, PERMESSAGE_DEFLATE);
  const agreed = acceptDeflateResponse(answer, {});
  assert.deepEqual(agreed, negotiation.params);
}

describe("fuzz: Sec-WebSocket-Extensions", () => {
  test("well-formed values parse to exactly their elements and round-trip", () => {
    fc.assert(
      fc.property(wellFormedExtensionsArbitrary, ({ offers, value }) => {
        const repeated = offers.some((offer) =>
          new Set(offer.params.map(([name]) => name)).size < offer.params.length
        );
        const parsed = tryParseExtensions(value);
        if (repeated) {
          assert.ok(
            parsed instanceof HandshakeError,
            "a repeated parameter was accepted",
          );
          return;
        }
        assert.ok(
          !(parsed instanceof HandshakeError),
          `refused ${JSON.stringify(value)}: ${parsed}`,
        );
        assert.deepEqual(
          parsed,
          offers.map((offer) => ({
            name: offer.name,
            params: new Map(offer.params),
          })),
        );
        assert.deepEqual(parseExtensions(formatExtensions(parsed)), parsed);
        checkNegotiation(value);
        assertNoPollution();
      }),
      parameters(runs(2)),
    );
  });

  test("any value: offers in Maps or HandshakeError 400; negotiation never throws and agrees with itself", () => {
    fc.assert(
      fc.property(extensionValueArbitrary, (value) => {
        const parsed = tryParseExtensions(value);
        if (!(parsed instanceof HandshakeError)) {
          checkOffers(parsed);
          assert.deepEqual(parseExtensions(formatExtensions(parsed)), parsed);
          // A value that parses as a whole is negotiated as a whole: the
          // first permessage-deflate offer the server can accept wins.
          const first = parsed.map((offer) =>
            offer.name === PERMESSAGE_DEFLATE
              ? evaluateDeflateOffer(offer)
              : undefined
          )
            .find((verdict) => verdict?.accepted);
          assert.equal(
            negotiateDeflate(value)?.response,
            first?.accepted ? formatExtensions([first.response]) : undefined,
          );
          for (const offered of [{}, undefined]) {
            try {
              const agreed = acceptDeflateResponse(parsed, offered);
              if (agreed !== undefined) {
                assert.ok(agreed.serverMaxWindowBits <= 15);
                assert.ok(agreed.clientMaxWindowBits <= 15);
              }
            } catch (error) {
              assert.ok(
                error instanceof HandshakeError,
                `not a HandshakeError: ${error}`,
              );
              assert.equal(error.status, 101);
            }
          }
        }
        checkNegotiation(value);
        assertNoPollution();
      }),
      parameters(runs()),
    );
  });

  test("offers naming prototype properties are declined, never accepted or leaked", () => {
    const offer = fc.record({
      params: fc.array(
        fc.tuple(nameArbitrary, fc.option(nameArbitrary, { nil: undefined })),
        { maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(offer, ({ params }) => {
        const map = new Map<string, string | true>();
        for (const [name, value] of params) map.set(name, value ?? true);
        const verdict = evaluateDeflateOffer({
          name: PERMESSAGE_DEFLATE,
          params: map,
        });
        const known = new Set([
          "server_no_context_takeover",
          "client_no_context_takeover",
          "server_max_window_bits",
          "client_max_window_bits",
        ]);
        if ([...map.keys()].some((name) => !known.has(name))) {
          assert.equal(verdict.accepted, false);
        }
        if (verdict.accepted) {
          for (const name of verdict.response.params.keys()) {
            assert.ok(known.has(name));
          }
        } else {
          assert.equal(typeof verdict.reason, "string");
        }
        assertNoPollution();
      }),
      parameters(runs(2)),
    );
  });
});

describe("fuzz: Sec-WebSocket-Protocol", () => {
  const protocolValue = fc.oneof(
    fc.array(nameArbitrary, { maxLength: 6 }).map((names) => names.join(", ")),
    fc.tuple(
      fc.array(nameArbitrary, { minLength: 1, maxLength: 6 }),
      fc.array(textMutationArbitrary, { maxLength: 3 }),
    )
      .map(([names, mutations]) => mutateText(names.join(","), mutations)),
    grammarSoupArbitrary,
  );

  test("a list of distinct tokens or HandshakeError 400, round-tripping", () => {
    fc.assert(
      fc.property(protocolValue, (value) => {
        let protocols: string[];
        try {
          protocols = parseProtocols(value);
        } catch (error) {
          assert.ok(
            error instanceof HandshakeError,
            `not a HandshakeError: ${error}`,
          );
          assert.equal(error.status, 400);
          return;
        }
        assert.equal(new Set(protocols).size, protocols.length);
        for (const protocol of protocols) assert.ok(isTokenText(protocol));
        // Every element is there, in order, with whitespace trimmed.
        assert.deepEqual(protocols, value.split(",").map(trimOws));
        assert.deepEqual(parseProtocols(formatProtocols(protocols)), protocols);
        assertNoPollution();
      }),
      parameters(runs(2)),
    );
  });
});

describe("16 KiB pathological header values finish (linear-time parsers)", () => {
  const SIZE = 16 * 1024;
  const values = pathologicalValues(SIZE);

  test("parseExtensions: each outcome as expected", () => {
    const accepted = new Set([
      "a;p0;p1;... (distinct params)",
      "a, a, a, ...",
      "p0, p1, ... (distinct)",
      "aaaa... (one long token)",
      "permessage-deflate;x, ... (declined offers)",
      "permessage-deflate; server_max_window_bits=111...",
    ]);
    for (const [label, value] of values) {
      assert.ok(value.length >= SIZE, label);
      const parsed = tryParseExtensions(value);
      assert.equal(
        !(parsed instanceof HandshakeError),
        accepted.has(label),
        label,
      );
    }
  });

  test("parseProtocols: only the distinct list and the long token parse", () => {
    for (const [label, value] of values) {
      let protocols: string[] | undefined;
      try {
        protocols = parseProtocols(value);
      } catch (error) {
        assert.ok(error instanceof HandshakeError, label);
      }
      if (label === "p0, p1, ... (distinct)") {
        assert.equal(protocols?.length, value.split(",").length, label);
      } else if (label === "aaaa... (one long token)") {
        assert.deepEqual(protocols, [value], label);
      } else assert.equal(protocols, undefined, label);
    }
  });

  test("negotiateDeflate and describeDeclinedOffers: nothing agreed, every declined offer named", () => {
    for (const [label, value] of values) {
      assert.equal(negotiateDeflate(value), undefined, label);
      const declined = describeDeclinedOffers(value);
      if (label === "permessage-deflate;x, ... (declined offers)") {
        // Only the first DEFAULTS.limits.maxDeflateOffers are parsed; one line says the
        // rest were ignored.
        const offers = value.split(",").length - 1;
        assert.ok(offers > DEFAULTS.limits.maxDeflateOffers);
        assert.equal(
          declined.length,
          DEFAULTS.limits.maxDeflateOffers + 1,
          label,
        );
      }
    }
  });

  test("validateUpgradeRequest with each value in every list header", () => {
    for (const [label, value] of values) {
      for (
        const name of [
          "Upgrade",
          "Connection",
          "Sec-WebSocket-Protocol",
          "Sec-WebSocket-Key",
          "Sec-WebSocket-Version",
        ]
      ) {
        const headers = new Headers({
          Host: "a",
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version": "13",
        });
        headers.set(name, value);
        try {
          validateUpgradeRequest({ method: "GET", headers });
          assert.equal(
            name,
            "Sec-WebSocket-Protocol",
            `${label} in ${name} accepted`,
          );
        } catch (error) {
          assert.ok(error instanceof HandshakeError, `${label} in ${name}`);
        }
      }
      assert.equal(listContainsToken(value, "upgrade"), false, label);
    }
  });
});
