/**
 * Fuzzing of the frame decoder and the protocol state machine with valid,
 * mutated and random byte streams cut at random points. Cases per property:
 * FUZZ_RUNS (default 20,000); `deno task fuzz <count> frame` for long runs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { WebSocketError } from "../../errors.ts";
import { type Frame, RSV1 } from "../../frame/types.ts";
import { FrameDecoder } from "../../frame/decoder.ts";
import {
  type ByteMutation,
  byteMutationArbitrary,
  bytewise,
  concat,
  cutsArbitrary,
  mutateAll,
  splice,
  split,
} from "./bytes.ts";
import { FUZZ_RUNS, parameters, runs } from "./config.ts";
import { plainEvents, runProtocol } from "./protocol_runner.ts";
import { lengthRewriteArbitrary, rewriteLengths } from "./length_rewrites.ts";
import { expectedOutcome } from "./protocol_model.ts";
import {
  configArbitrary,
  configuredStreamArbitrary,
  encodeStream,
  type FuzzConfig,
  streamArbitrary,
  streamFrames,
  type StreamSpec,
} from "./ws_streams.ts";

/** Streams up to this size are also fed one byte at a time. */
const BYTEWISE_LIMIT = 2048;

/** A valid stream for `config`, encoded. */
function encode(config: FuzzConfig, stream: StreamSpec) {
  return encodeStream(streamFrames(stream), config.role, stream.maskSeed);
}

/** Mutated valid streams: length fields set to edge values, byte edits, and
 * sometimes the start of one stream joined to the end of another. */
const mutatedStreamArbitrary = configArbitrary.chain((config) =>
  fc.record({
    config: fc.constant(config),
    stream: streamArbitrary(config.perMessageDeflate),
    other: fc.option(
      fc.record({
        stream: streamArbitrary(config.perMessageDeflate),
        firstEnd: fc.nat(),
        secondStart: fc.nat(),
      }),
      { nil: undefined, freq: 5 },
    ),
    lengthRewrites: fc.array(lengthRewriteArbitrary, { maxLength: 2 }),
    mutations: fc.array(byteMutationArbitrary, { maxLength: 4 }),
  })
).map(({ config, stream, other, lengthRewrites, mutations }) => {
  let bytes = rewriteLengths(encode(config, stream), lengthRewrites);
  if (other !== undefined) {
    const second = encode(config, other.stream).bytes;
    bytes = splice(bytes, second, other.firstEnd, other.secondStart);
  }
  return { config, bytes: mutateAll(bytes, mutations) };
});

/** Random bytes, often starting like a frame header the receiver expects. */
const randomStreamArbitrary = fc.record({
  config: configArbitrary,
  bytes: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.uint8Array({ maxLength: 600 }),
  ),
  maskBit: fc.boolean(),
});

/** Properties every input must keep, checked over three different cuts
 * (one of them overwriting each chunk after `receive()`, as a transport
 * that reuses its read buffer does). */
function checkAnyInput(
  config: FuzzConfig,
  bytes: Uint8Array,
  cutsA: number[],
  cutsB: number[],
): void {
  const whole = runProtocol(config, [bytes.slice()]);
  const reference = plainEvents(whole, true);
  assert.deepEqual(
    plainEvents(runProtocol(config, split(bytes, cutsA), true), true),
    reference,
  );
  assert.deepEqual(
    plainEvents(runProtocol(config, split(bytes, cutsB)), true),
    reference,
  );
  if (bytes.length <= BYTEWISE_LIMIT && cutsA.length % 4 === 0) {
    assert.deepEqual(
      plainEvents(runProtocol(config, bytewise(bytes)), true),
      reference,
    );
  }
}

describe("fuzz: Protocol", () => {
  test(`valid streams give exactly the sent messages, split anywhere, read buffer reused (${FUZZ_RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        configuredStreamArbitrary,
        cutsArbitrary,
        ({ config, stream }, cuts) => {
          const frames = streamFrames(stream);
          const { bytes } = encodeStream(frames, config.role, stream.maskSeed);
          const expected = expectedOutcome(frames, config);
          const run = runProtocol(config, split(bytes, cuts), true);
          assert.deepEqual(plainEvents(run, false), expected.events);
          assert.deepEqual(
            run.outgoing.filter((frame) => frame.opcode === 0xa).map((frame) =>
              frame.payload
            ),
            expected.pongs,
          );
          const close = run.outgoing.find((frame) => frame.opcode === 0x8);
          const sentCode = close === undefined
            ? null
            : close.payload.length === 0
            ? 1005
            : (close.payload[0] << 8) | close.payload[1];
          assert.equal(sentCode, expected.closeCode);
        },
      ),
      parameters(runs()),
    );
  });

  test(`mutated valid streams: no throw, RFC close codes, nothing after the end, same events however split (${FUZZ_RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        mutatedStreamArbitrary,
        cutsArbitrary,
        cutsArbitrary,
        ({ config, bytes }, cutsA, cutsB) => {
          checkAnyInput(config, bytes, cutsA, cutsB);
        },
      ),
      parameters(runs()),
    );
  });

  test(`random byte streams: the same invariants (${FUZZ_RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        randomStreamArbitrary,
        cutsArbitrary,
        cutsArbitrary,
        ({ config, bytes, maskBit }, cutsA, cutsB) => {
          // Make the first header pass the masking check half of the time.
          const input = bytes.slice();
          if (input.length >= 2 && maskBit) {
            input[1] = config.role === "server"
              ? input[1] | 0x80
              : input[1] & 0x7f;
          }
          checkAnyInput(config, input, cutsA, cutsB);
        },
      ),
      parameters(runs()),
    );
  });
});

/** Decoder options: every masking expectation, small limits, any RSV mask. */
const decoderOptionsArbitrary = fc.record({
  expectMasked: fc.constantFrom(true, false, null),
  maxPayloadLength: fc.constantFrom(0, 125, 200, 1024, 70_000),
  allowedReservedBits: fc.oneof(
    fc.constant(0),
    fc.constant(RSV1),
    fc.integer({ min: 0, max: 7 }),
  ),
});

interface DecodeResult {
  frames: Frame[];
  error: WebSocketError | null;
}

/** Decodes pieces, checking the buffering bound after each one. */
function decodeAll(
  options: {
    expectMasked: boolean | null;
    maxPayloadLength: number;
    allowedReservedBits: number;
  },
  pieces: Uint8Array[],
): DecodeResult {
  const decoder = new FrameDecoder(options);
  const frames: Frame[] = [];
  // A partial frame: at most a 14-byte header and a payload within the limit
  // (a control payload is at most 125 bytes whatever the limit).
  const bound = 14 + Math.max(options.maxPayloadLength, 125);
  for (const piece of pieces) {
    decoder.push(piece);
    for (;;) {
      let frame: Frame | undefined;
      try {
        frame = decoder.next();
      } catch (error) {
        assert.ok(error instanceof WebSocketError, `untyped error ${error}`);
        assert.ok([1002, 1009].includes(error.closeCode));
        // The error sticks.
        assert.throws(() => decoder.next(), (again) => again === error);
        return { frames, error };
      }
      if (frame === undefined) break;
      checkFrame(frame, options);
      frames.push({ ...frame, payload: frame.payload.slice() });
    }
    assert.ok(
      decoder.bufferedBytes <= bound,
      `buffered ${decoder.bufferedBytes} bytes > ${bound}`,
    );
  }
  return { frames, error: null };
}

function checkFrame(
  frame: Frame,
  options: {
    expectMasked: boolean | null;
    maxPayloadLength: number;
    allowedReservedBits: number;
  },
): void {
  assert.ok([0x0, 0x1, 0x2, 0x8, 0x9, 0xa].includes(frame.opcode));
  if (options.expectMasked !== null) {
    assert.equal(frame.masked, options.expectMasked);
  }
  const rsv = (frame.rsv1 ? 4 : 0) | (frame.rsv2 ? 2 : 0) |
    (frame.rsv3 ? 1 : 0);
  assert.equal(rsv & ~options.allowedReservedBits, 0);
  if (frame.opcode >= 0x8) {
    assert.ok(frame.fin && frame.payload.length <= 125);
  } else {
    assert.ok(frame.payload.length <= options.maxPayloadLength);
  }
}

describe("fuzz: FrameDecoder", () => {
  test(`mutated streams: typed sticky errors, bounded buffering, same frames however split (${FUZZ_RUNS} runs)`, () => {
    const input = fc.record({
      options: decoderOptionsArbitrary,
      stream: streamArbitrary(true),
      masked: fc.boolean(),
      lengthRewrites: fc.array(lengthRewriteArbitrary, { maxLength: 2 }),
      mutations: fc.array(byteMutationArbitrary, { maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        input,
        cutsArbitrary,
        ({ options, stream, masked, lengthRewrites, mutations }, cuts) => {
          const encoded = encodeStream(
            streamFrames(stream),
            masked ? "server" : "client",
            stream.maskSeed,
          );
          const bytes = mutateAll(
            rewriteLengths(encoded, lengthRewrites),
            mutations as ByteMutation[],
          );
          const whole = decodeAll(options, [bytes.slice()]);
          const pieces = decodeAll(options, split(bytes, cuts));
          assert.deepEqual(pieces, whole);
          if (bytes.length <= BYTEWISE_LIMIT && cuts.length % 4 === 0) {
            assert.deepEqual(decodeAll(options, bytewise(bytes)), whole);
          }
        },
      ),
      parameters(runs()),
    );
  });

  test("a header announcing a huge payload buffers nothing beyond the limit, byte by byte", () => {
    // 2^63 - 1 and 2^53 + 1 pass the top-bit check and must fail the limit
    // before any payload byte is kept.
    for (const high of [0x7fffffff, 0x00200000, 0x00000000]) {
      const header = new Uint8Array([
        0x82,
        0x7f,
        high >>> 24,
        (high >>> 16) & 0xff,
        (high >>> 8) & 0xff,
        high & 0xff,
        0,
        1,
        0,
        1,
      ]);
      const result = decodeAll({
        expectMasked: false,
        maxPayloadLength: 1024,
        allowedReservedBits: 0,
      }, bytewise(concat([header, new Uint8Array(64)])));
      assert.equal(result.error?.closeCode, 1009, `high word ${high}`);
    }
  });
});
