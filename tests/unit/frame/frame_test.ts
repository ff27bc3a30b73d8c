import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { applyMask, randomMaskKey } from "../../../frame/mask.ts";
import { encodeFrame, frameHeaderLength } from "../../../frame/encoder.ts";
import { type Frame, Opcode, RSV1 } from "../../../frame/types.ts";
import { FrameDecoder } from "../../../frame/decoder.ts";
import { MessageTooBigError, WebSocketError } from "../../../errors.ts";

const hello = new TextEncoder().encode("Hello");

/** Decodes everything in `bytes`, pushed in pieces of `pieceSize`. */
function decodeAll(
  decoder: FrameDecoder,
  bytes: Uint8Array,
  pieceSize = bytes.length || 1,
): Frame[] {
  const frames: Frame[] = [];
  for (let start = 0; start < bytes.length; start += pieceSize) {
    decoder.push(bytes.slice(start, start + pieceSize));
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      frames.push({ ...frame, payload: frame.payload.slice() });
    }
  }
  return frames;
}

function bytesOf(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** Builds a header by hand, independent of the encoder under test. */
function rawHeader(
  first: number,
  length: number,
  maskKey?: number[],
): Uint8Array {
  const maskBit = maskKey ? 0x80 : 0;
  const out: number[] = [first];
  if (length <= 125) out.push(maskBit | length);
  else if (length <= 0xffff) {
    out.push(maskBit | 126, length >> 8, length & 0xff);
  } else {
    out.push(maskBit | 127);
    const big = BigInt(length);
    for (let shift = 56n; shift >= 0n; shift -= 8n) {
      out.push(Number((big >> shift) & 0xffn));
    }
  }
  if (maskKey) out.push(...maskKey);
  return new Uint8Array(out);
}

describe("RFC 6455 section 5.7 examples, byte for byte", () => {
  const unmaskedHello = bytesOf(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
  const maskedHello = bytesOf(
    0x81,
    0x85,
    0x37,
    0xfa,
    0x21,
    0x3d,
    0x7f,
    0x9f,
    0x4d,
    0x51,
    0x58,
  );

  test("a single-frame unmasked text message", () => {
    assert.deepEqual(encodeFrame(Opcode.Text, hello), unmaskedHello);
    const [frame] = decodeAll(
      new FrameDecoder({ expectMasked: false }),
      unmaskedHello.slice(),
    );
    assert.equal(frame.fin, true);
    assert.equal(frame.opcode, Opcode.Text);
    assert.deepEqual(frame.payload, hello);
  });

  test("a single-frame masked text message", () => {
    const key = bytesOf(0x37, 0xfa, 0x21, 0x3d);
    assert.deepEqual(
      encodeFrame(Opcode.Text, hello, { mask: key }),
      maskedHello,
    );
    const [frame] = decodeAll(
      new FrameDecoder({ expectMasked: true }),
      maskedHello.slice(),
    );
    assert.equal(frame.masked, true);
    assert.deepEqual(frame.payload, hello);
  });

  test("a fragmented unmasked text message", () => {
    const first = bytesOf(0x01, 0x03, 0x48, 0x65, 0x6c);
    const second = bytesOf(0x80, 0x02, 0x6c, 0x6f);
    assert.deepEqual(
      encodeFrame(Opcode.Text, hello.subarray(0, 3), { fin: false }),
      first,
    );
    assert.deepEqual(
      encodeFrame(Opcode.Continuation, hello.subarray(3)),
      second,
    );
    const frames = decodeAll(
      new FrameDecoder({ expectMasked: false }),
      new Uint8Array([...first, ...second]),
    );
    assert.deepEqual(frames.map((f) => [f.fin, f.opcode]), [
      [false, Opcode.Text],
      [true, Opcode.Continuation],
    ]);
  });

  test("unmasked ping and masked pong", () => {
    const ping = bytesOf(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
    const pong = bytesOf(
      0x8a,
      0x85,
      0x37,
      0xfa,
      0x21,
      0x3d,
      0x7f,
      0x9f,
      0x4d,
      0x51,
      0x58,
    );
    assert.deepEqual(encodeFrame(Opcode.Ping, hello), ping);
    assert.deepEqual(
      encodeFrame(Opcode.Pong, hello, {
        mask: bytesOf(0x37, 0xfa, 0x21, 0x3d),
      }),
      pong,
    );
    const [decoded] = decodeAll(new FrameDecoder({ expectMasked: true }), pong);
    assert.equal(decoded.opcode, Opcode.Pong);
    assert.deepEqual(decoded.payload, hello);
  });

  test("256 bytes and 64 KiB binary messages use 16- and 64-bit lengths", () => {
    const small = encodeFrame(Opcode.Binary, new Uint8Array(256));
    assert.deepEqual(small.subarray(0, 4), bytesOf(0x82, 0x7e, 0x01, 0x00));
    const large = encodeFrame(Opcode.Binary, new Uint8Array(65536));
    assert.deepEqual(
      large.subarray(0, 10),
      bytesOf(0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00),
    );
  });
});

describe("length encoding boundaries", () => {
  for (
    const [length, headerSize] of [
      [0, 2],
      [125, 2],
      [126, 4],
      [65535, 4],
      [65536, 10],
      [1 << 20, 10],
    ]
  ) {
    test(`${length} bytes: ${headerSize}-byte header, decoded back`, () => {
      const payload = new Uint8Array(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 31) & 0xff;
      const frame = encodeFrame(Opcode.Binary, payload);
      assert.equal(frame.length, headerSize + length);
      assert.equal(frameHeaderLength(length, false), headerSize);
      assert.deepEqual(frame.subarray(0, headerSize), rawHeader(0x82, length));
      const masked = encodeFrame(Opcode.Binary, payload, { mask: true });
      assert.equal(masked.length, headerSize + 4 + length);
      const [decoded] = decodeAll(
        new FrameDecoder({ expectMasked: true }),
        masked,
        4096,
      );
      assert.deepEqual(decoded.payload, payload);
    });
  }

  test("a 64-bit length above 2^32 is read in full", () => {
    const decoder = new FrameDecoder({
      expectMasked: false,
      maxPayloadLength: 2 ** 32,
    });
    // 2^32 + 1 bytes declared: one over the limit, so the full 64 bits count.
    decoder.push(rawHeader(0x82, 2 ** 32 + 1));
    assert.throws(() => decoder.next(), MessageTooBigError);
  });
});

describe("masking", () => {
  test("applyMask matches a byte-by-byte XOR at every offset and alignment", () => {
    const key = bytesOf(0x12, 0x34, 0x56, 0x78);
    const backing = new Uint8Array(300);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 7 + 3) & 0xff;
    for (const start of [0, 1, 2, 3, 5]) {
      for (const length of [0, 1, 3, 31, 32, 33, 100, 255]) {
        for (const offset of [0, 1, 2, 3, 6]) {
          const data = backing.slice().subarray(start, start + length);
          const expected = data.map((byte, i) => byte ^ key[(offset + i) % 4]);
          applyMask(data, key, offset);
          assert.deepEqual(
            data,
            expected,
            `start ${start} length ${length} offset ${offset}`,
          );
        }
      }
    }
  });

  test("masking a payload in pieces with offsets equals masking it whole", () => {
    const key = bytesOf(1, 2, 3, 4);
    const whole = new Uint8Array(1000).map((_, i) => i & 0xff);
    const pieces = whole.slice();
    applyMask(whole, key);
    applyMask(pieces.subarray(0, 333), key, 0);
    applyMask(pieces.subarray(333, 700), key, 333);
    applyMask(pieces.subarray(700), key, 700);
    assert.deepEqual(pieces, whole);
  });

  test("encoding never modifies the caller's payload", () => {
    const payload = new Uint8Array(100).fill(7);
    encodeFrame(Opcode.Binary, payload, { mask: true });
    assert.deepEqual(payload, new Uint8Array(100).fill(7));
  });

  test("every frame gets a fresh random key", () => {
    const keys = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const frame = encodeFrame(Opcode.Text, hello, { mask: true });
      assert.equal(frame[1] & 0x80, 0x80);
      keys.add(frame.subarray(2, 6).join(","));
    }
    // 2000 draws from 2^32 keys: a repeat is a 1-in-2000 event; allow a few.
    assert.ok(keys.size >= 1995, `only ${keys.size} distinct keys`);
    assert.notDeepEqual(randomMaskKey(), randomMaskKey());
  });
});

describe("incremental decoding", () => {
  const stream = new Uint8Array([
    ...encodeFrame(Opcode.Text, hello, { mask: true }),
    ...encodeFrame(Opcode.Ping, new Uint8Array(0), { mask: true }),
    ...encodeFrame(Opcode.Binary, new Uint8Array(300).fill(9), { mask: true }),
    ...encodeFrame(Opcode.Binary, new Uint8Array(70000).fill(5), {
      mask: true,
    }),
    ...encodeFrame(Opcode.Close, bytesOf(0x03, 0xe8), { mask: true }),
  ]);
  const expected = [
    [Opcode.Text, 5],
    [Opcode.Ping, 0],
    [Opcode.Binary, 300],
    [Opcode.Binary, 70000],
    [Opcode.Close, 2],
  ];

  for (const pieceSize of [1, 2, 3, 7, 13, 64, 1000, 65536, stream.length]) {
    test(`pushed in pieces of ${pieceSize} bytes`, () => {
      const frames = decodeAll(
        new FrameDecoder({ expectMasked: true }),
        stream,
        pieceSize,
      );
      assert.deepEqual(
        frames.map((f) => [f.opcode, f.payload.length]),
        expected,
      );
      assert.deepEqual(frames[0].payload, hello);
      assert.ok(frames[3].payload.every((byte) => byte === 5));
    });
  }

  test("pushing twice before draining keeps every byte", () => {
    const decoder = new FrameDecoder({ expectMasked: true });
    decoder.push(stream.slice(0, 4));
    decoder.push(stream.slice(4, 20));
    decoder.push(stream.slice(20));
    const frames: Frame[] = [];
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      frames.push(frame);
    }
    assert.deepEqual(frames.map((f) => [f.opcode, f.payload.length]), expected);
  });

  test("a whole frame in one chunk is handed out as a view, not a copy", () => {
    const chunk = encodeFrame(Opcode.Binary, new Uint8Array(50).fill(1));
    const decoder = new FrameDecoder({ expectMasked: false });
    decoder.push(chunk);
    const frame = decoder.next();
    assert.ok(frame);
    assert.equal(frame.payload.buffer, chunk.buffer);
    assert.equal(decoder.bufferedBytes, 0);
  });

  test("bufferedBytes counts a partial frame", () => {
    const decoder = new FrameDecoder({ expectMasked: false });
    decoder.push(
      encodeFrame(Opcode.Binary, new Uint8Array(1000)).slice(0, 600),
    );
    assert.equal(decoder.next(), undefined);
    assert.equal(decoder.bufferedBytes, 600 - 4);
  });
});

describe("rejections carry the right rule and close code", () => {
  function rejects(
    bytes: Uint8Array,
    rule: string,
    code: number,
    options: ConstructorParameters<typeof FrameDecoder>[0] = {
      expectMasked: false,
    },
  ): void {
    // Whole, and one byte at a time: the outcome must not depend on splits.
    for (const pieceSize of [bytes.length, 1]) {
      const decoder = new FrameDecoder(options);
      assert.throws(
        () => decodeAll(decoder, bytes.slice(), pieceSize),
        (error: unknown) => {
          assert.ok(error instanceof WebSocketError);
          assert.equal(error.rule, rule);
          assert.equal(error.closeCode, code);
          return true;
        },
      );
      // The decoder stays failed.
      assert.throws(() => decoder.next());
    }
  }

  for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`reserved opcode 0x${opcode.toString(16)}: 1002`, () => {
      rejects(bytesOf(0x80 | opcode, 0x00), "ReservedOpcode", 1002);
    });
  }

  for (const [bit, name] of [[0x40, "RSV1"], [0x20, "RSV2"], [0x10, "RSV3"]]) {
    test(`${name} with no extension: 1002`, () => {
      rejects(bytesOf(0x81 | Number(bit), 0x00), "ReservedBitsSet", 1002);
    });
  }

  test("RSV1 is accepted when an extension owns it", () => {
    const decoder = new FrameDecoder({
      expectMasked: false,
      allowedReservedBits: RSV1,
    });
    const [frame] = decodeAll(
      decoder,
      encodeFrame(Opcode.Text, hello, { rsv1: true }),
    );
    assert.equal(frame.rsv1, true);
    rejects(bytesOf(0xa1, 0x00), "ReservedBitsSet", 1002, {
      expectMasked: false,
      allowedReservedBits: RSV1,
    });
  });

  test("control frame longer than 125 bytes: 1002", () => {
    rejects(rawHeader(0x89, 126), "ControlFrameTooLong", 1002);
    // 125 is fine.
    const [ping] = decodeAll(
      new FrameDecoder({ expectMasked: false }),
      encodeFrame(Opcode.Ping, new Uint8Array(125)),
    );
    assert.equal(ping.payload.length, 125);
  });

  for (const opcode of [Opcode.Close, Opcode.Ping, Opcode.Pong]) {
    test(`fragmented control frame (opcode ${opcode}): 1002`, () => {
      rejects(bytesOf(opcode, 0x00), "FragmentedControlFrame", 1002);
    });
  }

  test("64-bit length with the top bit set: 1002", () => {
    rejects(
      bytesOf(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1),
      "LengthTopBitSet",
      1002,
    );
  });

  test("frame longer than the maximum: 1009 from the header alone", () => {
    const decoder = new FrameDecoder({
      expectMasked: false,
      maxPayloadLength: 1000,
    });
    // Only the header arrives: the decision cannot wait for the payload.
    decoder.push(rawHeader(0x82, 1001));
    assert.throws(() => decoder.next(), (error: unknown) => {
      assert.ok(error instanceof MessageTooBigError);
      assert.equal(error.rule, "FrameTooLarge");
      assert.equal(error.closeCode, 1009);
      return true;
    });
    const atLimit = new FrameDecoder({
      expectMasked: false,
      maxPayloadLength: 1000,
    });
    const [frame] = decodeAll(
      atLimit,
      encodeFrame(Opcode.Binary, new Uint8Array(1000)),
    );
    assert.equal(frame.payload.length, 1000);
  });

  test("unmasked frame from a client: 1002", () => {
    rejects(encodeFrame(Opcode.Text, hello), "UnmaskedFrameFromClient", 1002, {
      expectMasked: true,
    });
  });

  test("masked frame from a server: 1002", () => {
    rejects(
      encodeFrame(Opcode.Text, hello, { mask: true }),
      "MaskedFrameFromServer",
      1002,
      { expectMasked: false },
    );
  });

  test("expectMasked null accepts both", () => {
    const decoder = new FrameDecoder({ expectMasked: null });
    const frames = decodeAll(
      decoder,
      new Uint8Array([
        ...encodeFrame(Opcode.Text, hello, { mask: true }),
        ...encodeFrame(Opcode.Text, hello),
      ]),
    );
    assert.deepEqual(frames.map((f) => f.masked), [true, false]);
  });
});
