/**
 * Fuzzing of permessage-deflate inflation (RFC 7692 section 7.2.2): valid
 * payloads from our compressor and from zlib (as other peers send them),
 * then mutated ones, checked against zlib as an independent inflater.
 * Only InvalidPayloadError (1007) or MessageTooBigError (1009) may come
 * out, never more than the limit, and a message is accepted only as the
 * bytes zlib reads from it. Cases per property: FUZZ_RUNS / 40 (each case
 * compresses with the platform's streams); `deno task fuzz <count> deflate`
 * for long runs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import { DEFLATE_TAIL, deflateMessage, inflateMessage } from "../deflate.ts";
import { InvalidPayloadError, MessageTooBigError } from "../errors.ts";
import {
  type ByteMutation,
  byteMutationArbitrary,
  concat,
  mutateAll,
} from "./fuzz/bytes.ts";
import { parameters, runs } from "./fuzz/config.ts";

const TAIL = new Uint8Array(DEFLATE_TAIL);

/** Messages: random bytes, or repetitive ones that compress well. */
const messageArbitrary = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.tuple(
    fc.uint8Array({ minLength: 1, maxLength: 8 }),
    fc.integer({ min: 1, max: 5000 }),
  )
    .map(([unit, count]) => {
      const bytes = new Uint8Array(unit.length * count);
      for (let i = 0; i < bytes.length; i++) bytes[i] = unit[i % unit.length];
      return bytes;
    }),
);

const maxSizeArbitrary = fc.constantFrom(0, 1, 100, 1024, 65536);

/** A zlib peer: raw deflate, sync-flushed, without the 00 00 ff ff tail. */
function zlibPayload(data: Uint8Array): Uint8Array {
  const flushed = new Uint8Array(
    deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH }),
  );
  return flushed.subarray(0, flushed.length - TAIL.length);
}

/** zlib's reading of a payload, or undefined when zlib refuses it. */
function zlibInflate(payload: Uint8Array): Uint8Array | undefined {
  try {
    return new Uint8Array(
      inflateRawSync(concat([payload, TAIL]), {
        finishFlush: constants.Z_SYNC_FLUSH,
      }),
    );
  } catch {
    return undefined;
  }
}

/** inflateMessage's outcome: the bytes, or the close code it failed with. */
async function inflate(
  payload: Uint8Array,
  maxSize: number,
): Promise<Uint8Array | number> {
  try {
    const message = await inflateMessage(payload, maxSize);
    assert.ok(
      message.length <= maxSize,
      `${message.length} bytes > ${maxSize}`,
    );
    return message;
  } catch (error) {
    if (error instanceof MessageTooBigError) return 1009;
    assert.ok(
      error instanceof InvalidPayloadError,
      `not a typed error: ${error}`,
    );
    assert.equal(error.rule, "InvalidCompressedData");
    return 1007;
  }
}

describe("fuzz: permessage-deflate inflation", () => {
  test("payloads from our compressor and from zlib inflate to the message, or 1009 past the limit", async () => {
    await fc.assert(
      fc.asyncProperty(
        messageArbitrary,
        maxSizeArbitrary,
        fc.boolean(),
        async (data, maxSize, ours) => {
          const payload = ours ? await deflateMessage(data) : zlibPayload(data);
          const outcome = await inflate(payload, maxSize);
          assert.deepEqual(outcome, data.length <= maxSize ? data : 1009);
        },
      ),
      parameters(runs(40)),
    );
  });

  const mutatedArbitrary = fc.record({
    data: messageArbitrary,
    ours: fc.boolean(),
    mutations: fc.array(byteMutationArbitrary, { minLength: 1, maxLength: 3 }),
    maxSize: maxSizeArbitrary,
  });

  /** A valid payload from either compressor, then mutated. */
  async function mutatedPayload(
    { data, ours, mutations }: {
      data: Uint8Array;
      ours: boolean;
      mutations: ByteMutation[];
    },
  ): Promise<Uint8Array> {
    return mutateAll(
      ours ? await deflateMessage(data) : zlibPayload(data),
      mutations,
    );
  }

  test("mutated payloads: a message within the limit or 1007/1009, nothing else", async () => {
    await fc.assert(
      fc.asyncProperty(mutatedArbitrary, async (input) => {
        await inflate(await mutatedPayload(input), input.maxSize);
      }),
      parameters(runs(40)),
    );
  });

  // Regression: inflateMessage once took any failure of the platform's
  // inflater on the appended 00 00 ff ff (or on an empty final block it
  // added) for "the data ended before", so data that is invalid only once
  // the tail is read (a stored block whose NLEN falls in the tail, a Huffman
  // code cut by it) came back truncated where zlib refuses it.
  test("mutated payloads: accepted only as the bytes zlib reads, refused when zlib refuses", async () => {
    await fc.assert(
      fc.asyncProperty(mutatedArbitrary, async (input) => {
        const payload = await mutatedPayload(input);
        const outcome = await inflate(payload, input.maxSize);
        const reference = zlibInflate(payload);
        if (outcome instanceof Uint8Array) {
          assert.deepEqual(outcome, reference);
        }
        if (reference === undefined) assert.ok(typeof outcome === "number");
      }),
      parameters(runs(40)),
    );
  });

  test("regression: a stored block whose NLEN would come from the tail is invalid", async () => {
    // "hello" sync-flushed by zlib, then a stored block header (00) with
    // LEN 5 (05 00): the appended tail gives NLEN 00 00, not ~LEN, so RFC
    // 1951 section 3.2.4 makes the data invalid. "hello" used to come back.
    const payload = new Uint8Array([
      0xca,
      0x48,
      0xcd,
      0xc9,
      0xc9,
      0x07,
      0x00,
      0x00,
      0x05,
      0x00,
    ]);
    assert.equal(zlibInflate(payload), undefined);
    assert.equal(await inflate(payload, 1024), 1007);
  });

  test("random payloads: only 1007/1009, or at most the limit as zlib reads it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 200 }),
        maxSizeArbitrary,
        async (payload, maxSize) => {
          const outcome = await inflate(payload, maxSize);
          if (outcome instanceof Uint8Array) {
            assert.deepEqual(outcome, zlibInflate(payload));
          }
        },
      ),
      parameters(runs(40)),
    );
  });

  test("a 10 MiB zip bomb is stopped at a 64 KiB limit with 1009", async () => {
    const bomb = zlibPayload(new Uint8Array(10 * 1024 * 1024));
    assert.ok(bomb.length < 20_000);
    assert.equal(await inflate(bomb, 65536), 1009);
  });
});
