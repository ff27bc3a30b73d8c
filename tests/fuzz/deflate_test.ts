/**
 * Fuzzing of permessage-deflate inflation (RFC 7692 section 7.2.2): valid
 * payloads from our compressor and from zlib (as other peers send them),
 * then mutated ones, checked against zlib as an independent inflater.
 * Only InvalidPayloadError (1007) or MessageTooBigError (1009) may come
 * out, never more than the limit, and a payload is read exactly as zlib
 * reads it (raw, `Z_SYNC_FLUSH`, with the tail appended, as `ws` and Node
 * do): zlib's bytes, 1009 when they pass the limit, a refusal where zlib
 * refuses. Cases per property: FUZZ_RUNS / 40 (each case compresses with
 * the platform's streams); `deno task fuzz <count> deflate` for long runs.
 * Last, hand-made DEFLATE data for the checks of RFC 1951 that mutations
 * rarely reach (dynamic block headers, incomplete codes, where the data
 * ends).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import {
  DEFLATE_TAIL,
  deflateMessage,
  inflateMessage,
} from "../../deflate/payload.ts";
import { InvalidPayloadError, MessageTooBigError } from "../../errors.ts";
import {
  type ByteMutation,
  byteMutationArbitrary,
  concat,
  mutateAll,
} from "./bytes.ts";
import { parameters, runs } from "./config.ts";

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
function inflate(
  payload: Uint8Array,
  maxSize: number,
): Uint8Array | number {
  try {
    const message = inflateMessage(payload, maxSize);
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

/** Checks that inflateMessage reads the payload as zlib does: zlib's bytes
 * when they fit in `maxSize`, 1009 when they do not, and 1007 (or 1009, when
 * the output passed the limit before the error) where zlib refuses it. */
async function assertReadAsZlib(
  payload: Uint8Array,
  maxSize: number,
): Promise<void> {
  const outcome = await inflate(payload, maxSize);
  const reference = zlibInflate(payload);
  if (reference === undefined) {
    assert.ok(typeof outcome === "number", "zlib refuses what we accept");
  } else if (reference.length > maxSize) {
    assert.equal(outcome, 1009, `zlib reads ${reference.length} bytes`);
  } else {
    assert.deepEqual(outcome, reference);
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
  // code cut by it) came back truncated where zlib refuses it. Then our own
  // decoder refused data zlib reads: cut inside a block, or going on after
  // a final block.
  test("mutated payloads: read exactly as zlib reads them", async () => {
    await fc.assert(
      fc.asyncProperty(mutatedArbitrary, async (input) => {
        await assertReadAsZlib(await mutatedPayload(input), input.maxSize);
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

  test("random payloads: read exactly as zlib reads them", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 200 }),
        maxSizeArbitrary,
        assertReadAsZlib,
      ),
      parameters(runs(40)),
    );
  });

  test("payloads with bytes after them, or cut short, read as zlib reads them", async () => {
    await fc.assert(
      fc.asyncProperty(
        mutatedArbitrary,
        fc.uint8Array({ maxLength: 20 }),
        fc.nat(),
        async (input, extra, cut) => {
          const payload = await mutatedPayload(input);
          const end = cut % (payload.length + 1);
          await assertReadAsZlib(concat([payload, extra]), input.maxSize);
          await assertReadAsZlib(payload.subarray(0, end), input.maxSize);
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

/**
 * Writes DEFLATE data by hand (RFC 1951 section 3.1.1): header fields and
 * extra bits from their lowest bit, Huffman codes from their highest.
 */
class BitWriter {
  readonly #bytes: number[] = [];
  #used = 8;

  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) this.#bit((value >> i) & 1);
    return this;
  }

  code(code: number, length: number): this {
    for (let i = length - 1; i >= 0; i--) this.#bit((code >> i) & 1);
    return this;
  }

  /** A block header: BFINAL, then BTYPE (1 fixed codes, 2 dynamic). */
  header(final: boolean, type: number): this {
    return this.bits(final ? 1 : 0, 1).bits(type, 2);
  }

  done(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  #bit(bit: number): void {
    if (this.#used === 8) {
      this.#bytes.push(0);
      this.#used = 0;
    }
    this.#bytes[this.#bytes.length - 1] |= bit << this.#used++;
  }
}

/** The canonical code of each symbol (RFC 1951 section 3.2.2), -1 for
 * symbols of length 0. */
function canonicalCodes(lengths: readonly number[]): number[] {
  const counts = new Array(16).fill(0);
  for (const length of lengths) if (length > 0) counts[length]++;
  const next = new Array(16).fill(0);
  for (let length = 1, code = 0; length < 16; length++) {
    code = (code + counts[length - 1]) << 1;
    next[length] = code;
  }
  return lengths.map((length) => length > 0 ? next[length]++ : -1);
}

/** The order of the code length code lengths in a dynamic block header. */
const CODE_LENGTH_ORDER = Uint8Array.from(
  "16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1 15".split(" "),
  Number,
);

/**
 * The start of a dynamic block header: HLIT and HDIST from the counts, then
 * the code length code, by default 4 bits for each of the symbols 0 to 15
 * (no repeats). Returns a writer of code length symbols.
 */
function dynamicHeader(
  writer: BitWriter,
  literalCount: number,
  distanceCount: number,
  codeLengthLengths: readonly number[] = [...new Array(16).fill(4), 0, 0, 0],
): (symbol: number, extra?: number, extraBits?: number) => void {
  writer.bits(literalCount - 257, 5).bits(distanceCount - 1, 5);
  writer.bits(CODE_LENGTH_ORDER.length - 4, 4);
  for (const symbol of CODE_LENGTH_ORDER) {
    writer.bits(codeLengthLengths[symbol], 3);
  }
  const codes = canonicalCodes(codeLengthLengths);
  return (symbol, extra = 0, extraBits = 0) => {
    writer.code(codes[symbol], codeLengthLengths[symbol]);
    writer.bits(extra, extraBits);
  };
}

/** A whole dynamic block header sending these code lengths; returns the
 * literal/length and distance codes. */
function dynamicCodes(
  writer: BitWriter,
  literals: readonly number[],
  distances: readonly number[],
): { literal: number[]; distance: number[] } {
  const send = dynamicHeader(writer, literals.length, distances.length);
  for (const length of [...literals, ...distances]) send(length);
  return {
    literal: canonicalCodes(literals),
    distance: canonicalCodes(distances),
  };
}

/** Code lengths of `count` symbols: `length` for the listed ones, else 0. */
function lengthsOf(
  count: number,
  entries: ReadonlyArray<[symbol: number, length: number]>,
): number[] {
  const lengths = new Array(count).fill(0);
  for (const [symbol, length] of entries) lengths[symbol] = length;
  return lengths;
}

/** An InvalidPayloadError whose message gives `reason`. */
function assertRefused(payload: Uint8Array, reason: string): void {
  assert.throws(() => inflateMessage(payload, 1024), (error: unknown) => {
    assert.ok(error instanceof InvalidPayloadError, `${reason}: ${error}`);
    assert.equal(error.rule, "InvalidCompressedData", reason);
    assert.ok(error.message.includes(reason), error.message);
    return true;
  });
}

describe("hand-made DEFLATE data, checked against zlib", () => {
  // Regression: our decoder refused all of these, where zlib (and so ws)
  // reads them: it stops at the end of a final block, and when the data
  // runs out it returns what it decoded.
  test("data cut inside a block, or going on after a final block, is read as zlib reads it", async () => {
    const hello = Uint8Array.of(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
    const text = (value: string) => new TextEncoder().encode(value);
    const cases: Array<[string, Uint8Array, Uint8Array]> = [
      // The tail decoded as Huffman codes of the block it cuts.
      ["cut in a block", Uint8Array.of(0xf2, 0x48, 0xcd), text("Heh")],
      ["final block ending in the tail", hello.subarray(0, 6), text("Hello")],
      [
        "ff after a final block",
        concat([hello, Uint8Array.of(0xff)]),
        text(
          "Hello",
        ),
      ],
      ["the tail after a final block", concat([hello, TAIL]), text("Hello")],
      [
        "a second stream after a final block",
        concat([hello, hello]),
        text("Hello"),
      ],
      // A final stored block of 10 bytes with 1 in the payload, 4 in the tail.
      [
        "stored block cut",
        Uint8Array.of(0x01, 0x0a, 0x00, 0xf5, 0xff, 0x48),
        Uint8Array.of(0x48, 0x00, 0x00, 0xff, 0xff),
      ],
      // RFC 7692 section 7.2.1: the sender should have removed the tail.
      [
        "tail not removed",
        concat([zlibPayload(new Uint8Array(9)), TAIL]),
        new Uint8Array(9),
      ],
      ["an empty payload", new Uint8Array(0), new Uint8Array(0)],
    ];
    for (const [label, payload, expected] of cases) {
      assert.deepEqual(zlibInflate(payload), expected, `${label}: zlib`);
      assert.deepEqual(await inflate(payload, 1024), expected, label);
    }
  });

  test("an invalid one-bit code at the end of the data is refused, as zlib refuses it", async () => {
    // Codes: "a" 0, end of block 10, length 3 11; one distance code, 0,
    // so a distance code starting with 1 is invalid, which zlib sees from
    // that one bit. The tail is read as codes: 16 "a", a length 3, and a
    // distance code 1 with only 13 bits after it.
    const writer = new BitWriter().header(true, 2);
    const lengths = lengthsOf(258, [[97, 1], [256, 2], [257, 2]]);
    dynamicCodes(writer, lengths, [1]);
    const payload = writer.done();
    assert.equal(zlibInflate(payload), undefined, "zlib refuses");
    await assertRefused(payload, "invalid distance code");
  });

  test("a code length code without codes reads one bit per length 0, as zlib does", async () => {
    // zlib accepts a code length code whose 19 lengths are all 0 and reads
    // every bit as a code length 0, so the data is refused (no end of block
    // code) only once the 257 + 1 lengths can be read: 74 header bits,
    // 6 bits of padding, the extra zero bytes, 32 bits of tail.
    const header = new BitWriter().header(true, 2);
    dynamicHeader(header, 257, 1, new Array(19).fill(0));
    const headerBytes = header.done();
    assert.equal(headerBytes.length, 10);
    const short = concat([headerBytes, new Uint8Array(27)]); // 254 bits
    assert.deepEqual(zlibInflate(short), new Uint8Array(0), "zlib reads 254");
    assert.deepEqual(await inflate(short, 1024), new Uint8Array(0));
    const enough = concat([headerBytes, new Uint8Array(28)]); // 262 bits
    assert.equal(zlibInflate(enough), undefined, "zlib refuses 262");
    await assertRefused(enough, "no end-of-block code");
  });

  test("what zlib refuses in a block header or a code is refused", async () => {
    const cases: Array<[string, BitWriter]> = [];
    const block = (type: number, reason: string) => {
      const writer = new BitWriter().header(true, type);
      cases.push([reason, writer]);
      return writer;
    };
    const nines = new Array(257).fill(9);
    dynamicCodes(block(2, "too many length"), new Array(287).fill(9), [1]);
    dynamicCodes(block(2, "too many length"), nines, new Array(31).fill(5));
    const withEnd = (length: number, entries: Array<[number, number]>) =>
      lengthsOf(257, [...entries, [256, length]]);
    const twoOnes = withEnd(1, [[65, 1], [66, 1]]);
    dynamicCodes(block(2, "over-subscribed literal"), twoOnes, [1]);
    const twoTwos = withEnd(2, [[65, 2]]);
    dynamicCodes(block(2, "incomplete literal"), twoTwos, [1]);
    const oneOne = withEnd(1, [[65, 1]]);
    dynamicCodes(block(2, "incomplete distance"), oneOne, [2, 2]);
    const noEnd = lengthsOf(257, [[65, 1], [66, 1]]);
    dynamicCodes(block(2, "no end-of-block"), noEnd, [1]);
    const fifteenFours = [...new Array(15).fill(4), 0, 0, 0, 0];
    dynamicHeader(block(2, "incomplete code length"), 257, 1, fifteenFours);
    const oneBit = [1, ...new Array(18).fill(0)]; // allowed in the others
    dynamicHeader(block(2, "incomplete code length"), 257, 1, oneBit);
    const withRepeat = [...new Array(15).fill(4), 0, 4, 0, 0];
    dynamicHeader(block(2, "no length"), 257, 1, withRepeat)(16, 0, 2);
    const pastTheEnd = dynamicHeader(
      block(2, "too many code"),
      257,
      1,
      withRepeat,
    );
    for (let i = 0; i < 257; i++) pastTheEnd(1);
    pastTheEnd(16, 0, 2); // three more lengths where one is left
    // Fixed codes: literal 0x41 is 8 bits from 0x30, length 3 is 7 bits 1.
    block(1, "invalid literal/length").code(0b11000110, 8); // symbol 286
    block(1, "invalid distance").code(0x71, 8).code(1, 7).code(30, 5);
    block(1, "too far back").code(0x71, 8).code(1, 7).code(1, 5); // 2 back
    block(3, "block type");
    for (const [reason, writer] of cases) {
      const payload = writer.bits(0, 32).done();
      assert.equal(zlibInflate(payload), undefined, `${reason}: zlib refuses`);
      await assertRefused(payload, reason);
    }
  });

  test("incomplete and 15-bit codes that zlib accepts are read as zlib reads them", async () => {
    const cases: Array<[string, Uint8Array, number[]]> = [];
    let writer = new BitWriter().header(true, 2);
    dynamicCodes(writer, lengthsOf(257, [[256, 1]]), [0]);
    cases.push(["only an end of block", writer.code(0, 1).done(), []]);

    writer = new BitWriter().header(true, 2);
    const threeSymbols = lengthsOf(258, [[97, 1], [256, 2], [257, 2]]);
    let codes = dynamicCodes(writer, threeSymbols, [1]);
    writer.code(codes.literal[97], 1); // "a"
    writer.code(codes.literal[257], 2).code(codes.distance[0], 1); // 3, 1 back
    writer.code(codes.literal[256], 2);
    cases.push(["one one-bit distance code", writer.done(), [97, 97, 97, 97]]);

    writer = new BitWriter().header(true, 2);
    codes = dynamicCodes(writer, lengthsOf(257, [[97, 1], [256, 1]]), [0]);
    writer.code(codes.literal[97], 1).code(codes.literal[97], 1);
    writer.code(codes.literal[256], 1);
    cases.push(["no distance code", writer.done(), [97, 97]]);

    // Symbol n has a code of n + 1 bits, the end of block one of 15.
    const lengths = lengthsOf(257, [[256, 15]]);
    for (let symbol = 0; symbol < 15; symbol++) lengths[symbol] = symbol + 1;
    writer = new BitWriter().header(true, 2);
    codes = dynamicCodes(writer, lengths, [0]);
    for (const symbol of [14, 13, 9, 0]) {
      writer.code(codes.literal[symbol], lengths[symbol]);
    }
    writer.code(codes.literal[256], 15);
    cases.push(["15-bit codes", writer.done(), [14, 13, 9, 0]]);

    // Fixed codes: 18 literals, then length 18 (symbol 268, extra bit 1)
    // from 17 back (symbol 8, 3 extra bits 0), which reads what it writes.
    writer = new BitWriter().header(true, 1);
    const literals = Array.from({ length: 18 }, (_, i) => 0x61 + i);
    for (const literal of literals) writer.code(0x30 + literal, 8);
    writer.code(268 - 256, 7).bits(1, 1).code(8, 5).bits(0, 3).code(0, 7);
    const overlapping = [...literals, ...literals.slice(1), literals[1]];
    cases.push([
      "a match 1 longer than its distance",
      writer.done(),
      overlapping,
    ]);

    for (const [label, payload, expected] of cases) {
      assert.deepEqual(zlibInflate(payload), Uint8Array.from(expected), label);
      assert.deepEqual(
        await inflate(payload, 1024),
        Uint8Array.from(expected),
        label,
      );
    }
  });
});
