// FrameDecoder.partialFrame: the frame whose payload is arriving, with the
// bytes received so far unmasked, for every split of masked and unmasked
// frames of each length encoding (and past the SIMD unmasking threshold).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameDecoder } from "../../../frame/decoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { handFrame, joinBytes } from "../../support/strict_cases.ts";

/** Bytes that differ from position to position. */
function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) {
    bytes[index] = (index * 7 + 3) & 0xff;
  }
  return bytes;
}

describe("FrameDecoder.partialFrame", () => {
  for (const sender of ["client", "server"] as const) {
    for (const length of [1, 125, 126, 3000, 70_000]) {
      test(`${sender} frame of ${length} bytes in pieces: the payload so far, unmasked`, () => {
        const payload = pattern(length);
        const frame = handFrame(sender, Opcode.Binary, payload, {
          fin: false,
        });
        const headerLength = frame.length - length;
        // Pieces of 1, 2, 3, ... bytes: every phase of the masking key.
        const decoder = new FrameDecoder({ expectMasked: sender === "client" });
        let offset = 0;
        for (let size = 1; offset < frame.length; size++) {
          const end = Math.min(frame.length, offset + size);
          decoder.push(frame.slice(offset, end));
          offset = end;
          const complete = decoder.next();
          const received = Math.max(0, offset - headerLength);
          if (offset === frame.length) {
            assert.ok(complete !== undefined);
            assert.deepEqual(complete.payload, payload);
            assert.equal(decoder.partialFrame(), undefined);
            break;
          }
          assert.equal(complete, undefined);
          const partial = decoder.partialFrame();
          if (offset < headerLength) {
            assert.equal(partial, undefined, "no header yet");
            continue;
          }
          assert.ok(partial !== undefined, `at ${offset}`);
          assert.equal(partial.opcode, Opcode.Binary);
          assert.equal(partial.fin, false);
          assert.equal(partial.masked, sender === "client");
          assert.equal(partial.payloadLength, length);
          assert.deepEqual(
            partial.payload,
            payload.subarray(0, received),
            `at ${offset}`,
          );
        }
      });
    }
  }

  test("undefined between frames and after an error", () => {
    const decoder = new FrameDecoder({ expectMasked: true });
    assert.equal(decoder.partialFrame(), undefined);
    decoder.push(handFrame("client", Opcode.Text, "whole"));
    assert.ok(decoder.next() !== undefined);
    assert.equal(decoder.next(), undefined);
    assert.equal(decoder.partialFrame(), undefined);
    const text = handFrame("client", Opcode.Text, "héllo");
    decoder.push(text.slice(0, 9));
    assert.equal(decoder.next(), undefined);
    assert.deepEqual(
      decoder.partialFrame()?.payload,
      new TextEncoder().encode("héllo").subarray(0, 3),
    );
    decoder.push(joinBytes(text.slice(9), handFrame("server", Opcode.Text)));
    assert.ok(decoder.next() !== undefined);
    assert.throws(() => decoder.next(), { rule: "UnmaskedFrameFromClient" });
    assert.equal(decoder.partialFrame(), undefined);
  });
});
