/**
 * Frames longer than `limits.payloadInitialBytes` that span reads are
 * gathered in the shared payload stage (frame/payload_stage.ts): every
 * length around the stage's size, every split, several decoders taking the
 * stage from each other, a look at the partial payload, and the protocol
 * above them.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameDecoder } from "../../../frame/decoder.ts";
import { PAYLOAD_STAGE_BYTES } from "../../../frame/payload_stage.ts";
import { Opcode } from "../../../frame/types.ts";
import { Protocol } from "../../../protocol/protocol.ts";
import { handFrame, joinBytes } from "../../support/strict_cases.ts";
import { DEFAULTS } from "../../../defaults.ts";

/** Bytes that differ from position to position, shifted by `seed`. */
function pattern(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) {
    bytes[index] = (index * 7 + seed + (index >>> 8)) & 0xff;
  }
  return bytes;
}

/** Compares bytes without a diff of megabytes when they differ. */
function assertSameBytes(
  actual: Uint8Array | undefined,
  expected: Uint8Array,
  message = "",
): void {
  assert.ok(actual !== undefined, `missing ${message}`);
  assert.equal(actual.length, expected.length, `length ${message}`);
  let index = 0;
  while (index < expected.length && actual[index] === expected[index]) index++;
  assert.equal(
    index,
    expected.length,
    `first difference at ${index} ${message}`,
  );
}

/** `bytes` cut into pieces whose sizes cycle through `sizes`. */
function cut(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (let index = 0; offset < bytes.length; index++) {
    const end = Math.min(bytes.length, offset + sizes[index % sizes.length]);
    pieces.push(bytes.slice(offset, end));
    offset = end;
  }
  return pieces;
}

/** Pushes each piece and collects the payloads of the complete frames. */
function decodeAll(
  decoder: FrameDecoder,
  pieces: readonly Uint8Array[],
): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  for (const piece of pieces) {
    decoder.push(piece);
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      payloads.push(frame.payload);
    }
  }
  return payloads;
}

const STAGE = PAYLOAD_STAGE_BYTES;
const LENGTHS = [
  DEFAULTS.limits.payloadInitialBytes + 1,
  STAGE - 1,
  STAGE,
  STAGE + 1,
  STAGE + 65,
  1024 * 1024 + 3,
];
const SPLITS: ReadonlyArray<readonly number[]> = [
  [64 * 1024],
  [65_521, 7, 4099, 1, 63],
  [STAGE - 5, 10],
];

describe("the payload stage", () => {
  for (const sender of ["client", "server"] as const) {
    for (const length of LENGTHS) {
      for (const split of SPLITS) {
        test(`${sender} frame of ${length} bytes in pieces of ${split}: the payload, unmasked`, () => {
          const payload = pattern(length);
          const next = pattern(100, 1);
          const stream = joinBytes(
            handFrame(sender, Opcode.Binary, payload),
            handFrame(sender, Opcode.Binary, next),
          );
          const decoder = new FrameDecoder({
            expectMasked: sender === "client",
          });
          const payloads = decodeAll(decoder, cut(stream, split));
          assert.equal(payloads.length, 2);
          assertSameBytes(payloads[0], payload);
          assertSameBytes(payloads[1], next);
          assert.equal(decoder.bufferedBytes, 0);
        });
      }
    }
  }

  test("decoders taking the stage from each other mid-frame each get their own payload", () => {
    const lengths = [STAGE + 1000, 200_001, 70_000];
    const decoders = lengths.map(() =>
      new FrameDecoder({ expectMasked: true })
    );
    const payloads = lengths.map((length, index) => pattern(length, index));
    const pieces = payloads.map((payload) =>
      cut(handFrame("client", Opcode.Binary, payload), [30_001])
    );
    const received: Uint8Array[][] = lengths.map(() => []);
    // One piece for each decoder in turn, as reads of several connections.
    for (let round = 0; pieces.some((list) => round < list.length); round++) {
      pieces.forEach((list, index) => {
        if (round >= list.length) return;
        received[index].push(...decodeAll(decoders[index], [list[round]]));
      });
    }
    received.forEach((frames, index) => {
      assert.equal(frames.length, 1);
      assertSameBytes(frames[0], payloads[index]);
    });
  });

  test("a decoder left mid-frame does not keep the stage from another", () => {
    const abandoned = new FrameDecoder({ expectMasked: true });
    const first = handFrame("client", Opcode.Binary, pattern(150_000, 3));
    assert.deepEqual(decodeAll(abandoned, [first.slice(0, 90_000)]), []);
    const payload = pattern(150_000, 4);
    const decoder = new FrameDecoder({ expectMasked: true });
    const frames = decodeAll(
      decoder,
      cut(handFrame("client", Opcode.Binary, payload), [40_000]),
    );
    assert.equal(frames.length, 1);
    assertSameBytes(frames[0], payload);
    // And the one left behind still finishes its frame correctly.
    const rest = decodeAll(abandoned, [first.slice(90_000)]);
    assert.equal(rest.length, 1);
    assertSameBytes(rest[0], pattern(150_000, 3));
  });

  test("looking at the partial payload mid-frame shows it and the frame still completes", () => {
    const payload = pattern(STAGE + 10_000, 5);
    const pieces = cut(handFrame("client", Opcode.Binary, payload), [50_001]);
    const decoder = new FrameDecoder({ expectMasked: true });
    assert.deepEqual(decodeAll(decoder, pieces.slice(0, 2)), []);
    const partial = decoder.partialFrame();
    assert.ok(partial !== undefined);
    const received = 2 * 50_001 - 14;
    assertSameBytes(partial.payload, payload.subarray(0, received));
    // Another decoder takes the stage: the view seen above must not change.
    const other = new FrameDecoder({ expectMasked: true });
    decodeAll(
      other,
      [handFrame("client", Opcode.Binary, pattern(90_000, 9))]
        .flatMap((frame) => cut(frame, [60_000])),
    );
    assertSameBytes(partial.payload, payload.subarray(0, received));
    const rest = decodeAll(decoder, pieces.slice(2));
    assert.equal(rest.length, 1);
    assertSameBytes(rest[0], payload);
  });

  test("the protocol reports large binary and text messages, whole and fragmented", () => {
    const binary = pattern(STAGE + 4321, 6);
    const text = "é😀a".repeat(40_000); // 280,000 bytes of UTF-8
    const textBytes = new TextEncoder().encode(text);
    const stream = joinBytes(
      handFrame("client", Opcode.Binary, binary),
      handFrame("client", Opcode.Text, textBytes),
      handFrame("client", Opcode.Text, textBytes.subarray(0, 100_000), {
        fin: false,
      }),
      handFrame("client", Opcode.Continuation, textBytes.subarray(100_000)),
    );
    const protocol = new Protocol({ role: "server" });
    const events = cut(stream, [65_536, 3]).flatMap((piece) =>
      protocol.receive(piece)
    );
    assert.deepEqual(events.map((event) => event.type), [
      "binary",
      "text",
      "text",
    ]);
    assert.ok(events[0].type === "binary");
    assertSameBytes(events[0].data, binary);
    assert.ok(events[1].type === "text" && events[1].data === text);
    assert.ok(events[2].type === "text" && events[2].data === text);
  });

  test("invalid UTF-8 in a large text frame fails the connection before it ends", () => {
    const bytes = new Uint8Array(STAGE + 100).fill(0x61);
    bytes[1000] = 0xff;
    const frame = handFrame("client", Opcode.Text, bytes);
    const protocol = new Protocol({ role: "server" });
    const events = protocol.receive(frame.slice(0, 65_536));
    assert.deepEqual(events.map((event) => event.type), ["error"]);
  });
});
