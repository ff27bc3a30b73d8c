/**
 * Fuzzing of the client side of the HTTP handshake: the response-head
 * parser, `verifyServerResponse` and `acceptDeflateResponse`, with valid
 * 101 answers, answers mutated field by field and byte by byte, split at
 * random points, and the 16 KiB limit byte by byte. Cases per property:
 * FUZZ_RUNS (default 20,000), fewer for the costly ones;
 * `deno task fuzz <count> http` for long runs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  acceptDeflateResponse,
  createDeflateOffer,
} from "../../deflate/negotiation.ts";
import { HandshakeError } from "../../errors.ts";
import { verifyServerResponse } from "../../handshake.ts";
import { type ResponseHead, responseHeaders } from "../../http1/response.ts";
import { bytewise, concat, cutsArbitrary, split } from "./bytes.ts";
import { parameters, runs } from "./config.ts";
import {
  checkResponseHead,
  type HeadOutcome,
  parseResponse,
} from "./head_checks.ts";
import {
  OFFERED_PROTOCOLS,
  RFC_KEY,
  serializeHead,
  upgradeResponseArbitrary,
} from "./http_heads.ts";
import { mutatedHeadArbitrary, trailerArbitrary } from "./mutated_heads.ts";
import { DEFAULTS } from "../../defaults.ts";

/** The response outcome, after the checks every outcome must pass. */
function checkResponseOutcome(
  bytes: Uint8Array,
  cutsA: number[],
  cutsB: number[],
): HeadOutcome<ResponseHead> {
  const whole = parseResponse([bytes]);
  assert.deepEqual(parseResponse(split(bytes, cutsA)), whole);
  assert.deepEqual(parseResponse(split(bytes, cutsB)), whole);
  if (whole.kind === "head") {
    checkResponseHead(whole.head, whole.consumed);
    assert.deepEqual(whole.rest, bytes.subarray(whole.consumed));
  }
  return whole;
}

/** What the client does with a parsed answer: verify it, then read the
 * permessage-deflate answer; only HandshakeErrors with the answer's status
 * (101 for a bad extension answer) may come out. */
async function checkClientVerdict(head: ResponseHead): Promise<void> {
  let verified;
  try {
    verified = await verifyServerResponse(
      { status: head.status, headers: responseHeaders(head) },
      {
        key: RFC_KEY,
        protocols: OFFERED_PROTOCOLS,
        offeredExtensions: [createDeflateOffer()],
      },
    );
  } catch (error) {
    assert.ok(
      error instanceof HandshakeError,
      `not a HandshakeError: ${error}`,
    );
    assert.equal(error.status, head.status);
    return;
  }
  assert.equal(head.status, 101);
  assert.ok(
    verified.protocol === "" || OFFERED_PROTOCOLS.includes(verified.protocol),
  );
  let params;
  try {
    params = acceptDeflateResponse(verified.extensions, {});
  } catch (error) {
    assert.ok(
      error instanceof HandshakeError,
      `not a HandshakeError: ${error}`,
    );
    assert.equal(error.status, 101);
    return;
  }
  if (params === undefined) return;
  // Context takeover is the server's to choose: the parameters say what
  // the answer said.
  const answer = verified.extensions.find((element) =>
    element.name === "permessage-deflate"
  );
  assert.equal(
    params.serverNoContextTakeover,
    answer?.params.has("server_no_context_takeover") ?? false,
  );
}

describe("fuzz: response heads (client)", () => {
  test("valid 101 answers parse and verify, split anywhere", async () => {
    await fc.assert(
      fc.asyncProperty(
        upgradeResponseArbitrary,
        trailerArbitrary,
        cutsArbitrary,
        async (spec, trailer, cuts) => {
          const bytes = concat([serializeHead(spec), trailer]);
          const outcome = parseResponse(split(bytes, cuts));
          assert.equal(outcome.kind, "head", JSON.stringify(outcome));
          if (outcome.kind !== "head") return;
          assert.deepEqual(outcome.rest, trailer);
          checkResponseHead(outcome.head, outcome.consumed);
          const verified = await verifyServerResponse(
            {
              status: outcome.head.status,
              headers: responseHeaders(outcome.head),
            },
            {
              key: RFC_KEY,
              protocols: OFFERED_PROTOCOLS,
              offeredExtensions: [createDeflateOffer()],
            },
          );
          const protocol = spec.headers.find(({ name }) =>
            name.toLowerCase() === "sec-websocket-protocol"
          );
          assert.equal(verified.protocol, protocol?.value.trim() ?? "");
          const params = acceptDeflateResponse(verified.extensions, {});
          const extensions = spec.headers.some(({ name }) =>
            name.toLowerCase() === "sec-websocket-extensions"
          );
          assert.equal(
            params?.serverNoContextTakeover,
            extensions ? true : undefined,
          );
        },
      ),
      parameters(runs(10)),
    );
  });

  test("mutated answers: a well-formed head or HandshakeError, the same however split", () => {
    fc.assert(
      fc.property(
        mutatedHeadArbitrary(upgradeResponseArbitrary),
        cutsArbitrary,
        cutsArbitrary,
        (bytes, cutsA, cutsB) => {
          checkResponseOutcome(bytes, cutsA, cutsB);
        },
      ),
      parameters(runs(2)),
    );
  });

  test("an answer that lets the server keep its context is accepted as such (a case the fuzz found)", async () => {
    const answer = [
      "HTTP/1.1 101 OK",
      "upgrade:  websocket  ",
      "Connection:  Upgrade  ",
      "sEc-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  ",
      "SEc-websocket-protocol:  superchat  ",
      "seC-websocket-extensions:  permessage-deflate;server_max_window_bits=10  ",
      "",
      "",
    ].join("\r\n");
    const outcome = parseResponse([new TextEncoder().encode(answer)]);
    assert.equal(outcome.kind, "head");
    if (outcome.kind === "head") await checkClientVerdict(outcome.head);
  });

  test("mutated answers: verifyServerResponse and acceptDeflateResponse refuse only with HandshakeError", async () => {
    await fc.assert(
      fc.asyncProperty(
        mutatedHeadArbitrary(upgradeResponseArbitrary),
        async (bytes) => {
          const outcome = parseResponse([bytes]);
          if (outcome.kind === "head") await checkClientVerdict(outcome.head);
        },
      ),
      parameters(runs(10)),
    );
  });

  test("an answer over 16 KiB is refused with its status, even trickled byte by byte", () => {
    fc.assert(
      fc.property(
        upgradeResponseArbitrary,
        fc.integer({ min: 1, max: 8000 }),
        cutsArbitrary,
        (spec, excess, cuts) => {
          const padding = DEFAULTS.limits.maxResponseHeadBytes -
            serializeHead(spec).length +
            excess;
          const bytes = serializeHead({
            ...spec,
            headers: [...spec.headers, {
              name: "X-Pad",
              value: "a".repeat(padding),
            }],
          });
          for (const pieces of [split(bytes, cuts), bytewise(bytes)]) {
            const outcome = parseResponse(pieces);
            assert.equal(outcome.kind, "error");
            if (outcome.kind === "error") {
              assert.equal(outcome.status, 101, outcome.message);
              assert.ok(
                outcome.consumed <= DEFAULTS.limits.maxResponseHeadBytes,
              );
            }
          }
        },
      ),
      parameters(runs(400, 30)),
    );
  });
});
