/**
 * Property-based tests of the codec: whatever the payloads, masks and the
 * points where the stream is split, decoding what was encoded gives back
 * exactly the frames and messages that went in.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeFrame, encodeTextFrame } from "../../frame/encoder.ts";
import { FrameDecoder } from "../../frame/decoder.ts";
import { Opcode } from "../../frame/types.ts";
import { Protocol } from "../../protocol/protocol.ts";
import type { ProtocolEvent } from "../../protocol/types.ts";
import { isValidUtf8, Utf8Validator } from "../../frame/utf8.ts";

/** Streams checked per property; the decoder property must see at least 10,000. */
const RUNS = 10_000;

const dataOpcode = fc.constantFrom<Opcode>(0x1, 0x2);
const controlOpcode = fc.constantFrom<Opcode>(0x9, 0xa);

/** A payload whose length often sits at an encoding boundary. */
const payload = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(125, 126, 127, 65535, 65536).map((length) =>
      new Uint8Array(length).map((_, i) => (i * 7) & 0xff)
    ),
  },
);

const frameSpec = fc.oneof(
  fc.record({
    opcode: dataOpcode,
    payload,
    fin: fc.boolean(),
    mask: fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), {
      nil: undefined,
    }),
  }),
  fc.record({
    opcode: controlOpcode,
    payload: fc.uint8Array({ maxLength: 125 }),
    fin: fc.constant(true),
    mask: fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), {
      nil: undefined,
    }),
  }),
);

/** Cuts `bytes` at the given fractions of its length. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => Math.floor(cut * bytes.length)))]
    .sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(bytes.slice(start, point));
    start = point;
  }
  pieces.push(bytes.slice(start));
  return pieces;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), {
  maxLength: 12,
});

describe("frame codec properties", () => {
  test(`decode(split(encode(frames))) == frames over ${RUNS} random streams`, () => {
    fc.assert(
      fc.property(
        fc.array(frameSpec, { minLength: 1, maxLength: 8 }),
        cuts,
        (specs, cutPoints) => {
          const stream = concat(
            specs.map((spec) =>
              encodeFrame(spec.opcode, spec.payload, {
                fin: spec.fin,
                mask: spec.mask ?? false,
              })
            ),
          );
          const decoder = new FrameDecoder({ expectMasked: null });
          const decoded = [];
          for (const piece of split(stream, cutPoints)) {
            decoder.push(piece);
            for (let frame = decoder.next(); frame; frame = decoder.next()) {
              decoded.push({
                opcode: frame.opcode,
                fin: frame.fin,
                masked: frame.masked,
                payload: frame.payload.slice(),
              });
            }
          }
          assert.equal(decoder.bufferedBytes, 0);
          assert.deepEqual(
            decoded,
            specs.map((spec) => ({
              opcode: spec.opcode,
              fin: spec.fin,
              masked: spec.mask !== undefined,
              payload: spec.payload,
            })),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  test("random garbage never throws anything but a typed protocol error", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        cuts,
        (bytes, cutPoints) => {
          const protocol = new Protocol({
            role: "server",
            maxMessageSize: 1024,
          });
          for (const piece of split(bytes, cutPoints)) {
            for (const event of protocol.receive(piece)) {
              if (event.type === "error") {
                assert.ok([1002, 1007, 1009].includes(event.error.closeCode));
              }
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("protocol properties", () => {
  const message = fc.oneof(
    fc.record({
      type: fc.constant("text" as const),
      data: fc.string({ unit: "binary", maxLength: 300 }),
    }),
    fc.record({
      type: fc.constant("binary" as const),
      data: fc.uint8Array({ maxLength: 300 }),
    }),
  );

  test("messages fragmented at random survive a client -> server trip split anywhere", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(message, fc.array(fc.nat(), { maxLength: 4 })), {
          maxLength: 6,
        }),
        cuts,
        (messages, cutPoints) => {
          const client = new Protocol({ role: "client" });
          const encoder = new TextEncoder();
          for (const [item, fragmentCuts] of messages) {
            const bytes = item.type === "text"
              ? encoder.encode(item.data)
              : item.data;
            // Fragment at arbitrary byte offsets, even inside a UTF-8 character.
            const pieces = split(
              bytes,
              fragmentCuts.map((n) => (n % 1000) / 1000),
            );
            pieces.forEach((piece, index) => {
              const opcode = index === 0
                ? (item.type === "text" ? 0x1 : 0x2)
                : 0x0;
              client.sendFragment(opcode, piece, index === pieces.length - 1);
            });
          }
          client.ping(new Uint8Array([1]));
          const server = new Protocol({ role: "server" });
          const events: ProtocolEvent[] = [];
          for (const piece of split(concat(client.takeOutgoing()), cutPoints)) {
            events.push(...server.receive(piece));
          }
          assert.deepEqual(events, [
            ...messages.map(([item]) =>
              item.type === "text"
                ? {
                  type: "text",
                  data: item.data.toWellFormed?.() ?? item.data,
                }
                : item
            ),
            { type: "ping", data: new Uint8Array([1]) },
          ]);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe("UTF-8 validator", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  function referenceValid(bytes: Uint8Array): boolean {
    try {
      fatal.decode(bytes);
      return true;
    } catch {
      return false;
    }
  }

  /** Bytes biased towards UTF-8 lead and continuation bytes. */
  const utf8ish = fc.array(
    fc.oneof(
      fc.integer({ min: 0x00, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0xbf }),
      fc.integer({ min: 0xc0, max: 0xff }),
      fc.constantFrom(0xe0, 0xed, 0xf0, 0xf4, 0xa0, 0x9f, 0x90, 0x8f),
    ),
    { maxLength: 24 },
  ).map((values) => new Uint8Array(values));

  test("agrees with the platform's strict decoder, however the input is split", () => {
    fc.assert(
      fc.property(utf8ish, cuts, (bytes, cutPoints) => {
        const validator = new Utf8Validator();
        let ok = true;
        for (const piece of split(bytes, cutPoints)) {
          ok = validator.push(piece) && ok;
        }
        assert.equal(ok && validator.finish(), referenceValid(bytes));
        assert.equal(isValidUtf8(bytes), referenceValid(bytes));
      }),
      { numRuns: RUNS },
    );
  });

  /**
   * Mostly valid text with a few arbitrary byte runs: a single bad run then
   * decides the outcome, which purely random bytes almost never isolate.
   */
  const mostlyValid = fc.array(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.oneof(
          fc.integer({ min: 0, max: 0xd7ff }),
          fc.integer({ min: 0xe000, max: 0x10ffff }),
        ).map((codePoint) =>
          Array.from(new TextEncoder().encode(String.fromCodePoint(codePoint)))
        ),
      },
      {
        weight: 1,
        arbitrary: utf8ish.map((bytes) => Array.from(bytes.subarray(0, 4))),
      },
    ),
    { maxLength: 12 },
  ).map((units) => new Uint8Array(units.flat()));

  test("agrees with the platform on mostly valid text split anywhere", () => {
    fc.assert(
      fc.property(mostlyValid, cuts, (bytes, cutPoints) => {
        const validator = new Utf8Validator();
        let ok = true;
        for (const piece of split(bytes, cutPoints)) {
          ok = validator.push(piece) && ok;
        }
        assert.equal(ok && validator.finish(), referenceValid(bytes));
      }),
      { numRuns: RUNS },
    );
  });

  test("each second-byte bound fails at the second byte", () => {
    const cases = [
      [0xe0, 0x9f], // overlong three-byte form
      [0xed, 0xa0], // UTF-16 surrogate
      [0xf0, 0x8f], // overlong four-byte form
      [0xf4, 0x90], // above U+10FFFF
      [0xc2, 0xc0], // not a continuation byte
    ];
    for (const [lead, second] of cases) {
      const validator = new Utf8Validator();
      assert.equal(validator.push(new Uint8Array([lead])), true);
      assert.equal(
        validator.push(new Uint8Array([second])),
        false,
        `${lead} ${second}`,
      );
    }
    for (
      const [lead, second] of [[0xe0, 0xa0], [0xed, 0x9f], [0xf0, 0x90], [
        0xf4,
        0x8f,
      ]]
    ) {
      const validator = new Utf8Validator();
      assert.equal(
        validator.push(new Uint8Array([lead, second])),
        true,
        `${lead} ${second}`,
      );
    }
  });

  test("every well-formed string is valid", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 50 }), (text) => {
        assert.equal(isValidUtf8(new TextEncoder().encode(text)), true);
      }),
      { numRuns: 2_000 },
    );
  });

  test("fails at the first impossible byte, not later", () => {
    const validator = new Utf8Validator();
    assert.equal(validator.push(new Uint8Array([0x41, 0xe2])), true);
    assert.equal(validator.push(new Uint8Array([0x28])), false); // not a continuation
    assert.equal(validator.push(new Uint8Array([0x41])), false); // stays failed
    validator.reset();
    assert.equal(validator.push(new Uint8Array([0x41])), true);
    assert.equal(validator.finish(), true);
  });
});

describe("encodeTextFrame", () => {
  const encoder = new TextEncoder();
  const key = new Uint8Array([9, 8, 7, 6]);
  /** Lengths around the 125/126 and 65535/65536 boundaries, in bytes. */
  const text = fc.oneof(
    fc.string({ unit: "binary", maxLength: 1500 }),
    fc.constantFrom(
      "a".repeat(125),
      "a".repeat(126),
      "€".repeat(41) + "ab", // 125 bytes from 43 units
      "€".repeat(42), // 126 bytes: a 4-byte header, reserved as 4 for 126 units
      "\ud800".repeat(42), // lone surrogates become U+FFFD
      "€".repeat(1024),
      "x".repeat(1025),
    ),
  );

  test("gives exactly the bytes of encodeFrame over the encoded text", () => {
    fc.assert(
      fc.property(text, (value) => {
        const expected = encodeFrame(Opcode.Text, encoder.encode(value));
        assert.deepEqual(encodeTextFrame(value), expected);
        const maskedExpected = encodeFrame(Opcode.Text, encoder.encode(value), {
          mask: key,
        });
        assert.deepEqual(encodeTextFrame(value, key), maskedExpected);
      }),
      { numRuns: 2_000 },
    );
  });

  test("a random mask decodes back to the text", () => {
    const decoder = new FrameDecoder({ expectMasked: true });
    decoder.push(encodeTextFrame("héllo €𝄞", true));
    const frame = decoder.next();
    assert.ok(frame);
    assert.equal(new TextDecoder().decode(frame.payload), "héllo €𝄞");
  });
});
