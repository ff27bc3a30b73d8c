// The Protocol state machine's hooks for permessage-deflate: RSV1 only when
// the extension is on, compressed messages reported raw, sendCompressed.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { FragmentSequenceError } from "../../../errors.ts";
import { concat, encoder, maskedFrame } from "../../support/bytes.ts";
import { assertFailed, serverReceives } from "../../support/protocol.ts";

describe("permessage-deflate hooks (RSV1)", () => {
  function rsv1Frame(
    opcode: Opcode,
    payload: Uint8Array,
    fin = true,
  ): Uint8Array {
    return encodeFrame(opcode, payload, { fin, rsv1: true, mask: true });
  }
  const deflateOptions = { perMessageDeflate: true };

  test("without the extension, RSV1 is a protocol error", () => {
    assertFailed(
      serverReceives(rsv1Frame(Opcode.Text, encoder.encode("x"))),
      "ReservedBitsSet",
      1002,
    );
  });

  test("a compressed message is reported raw, reassembled from fragments", () => {
    const { events } = serverReceives(
      concat(
        rsv1Frame(Opcode.Text, new Uint8Array([0xf2, 0x48]), false),
        maskedFrame(Opcode.Ping, "between"),
        maskedFrame(
          Opcode.Continuation,
          new Uint8Array([0xcd, 0xc9, 0xc9, 0x07, 0x00]),
        ),
        rsv1Frame(Opcode.Binary, new Uint8Array([1, 2, 3])),
        maskedFrame(Opcode.Text, "plain"),
      ),
      deflateOptions,
    );
    assert.deepEqual(events, [
      { type: "ping", data: encoder.encode("between") },
      {
        type: "compressed",
        messageType: "text",
        data: new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
      },
      {
        type: "compressed",
        messageType: "binary",
        data: new Uint8Array([1, 2, 3]),
      },
      { type: "text", data: "plain" },
    ]);
  });

  test("compressed text is not UTF-8 checked before inflating", () => {
    const { events } = serverReceives(
      rsv1Frame(Opcode.Text, new Uint8Array([0xff, 0xfe])),
      deflateOptions,
    );
    assert.equal(events[0].type, "compressed");
  });

  test("RSV1 on a continuation frame: 1002", () => {
    assertFailed(
      serverReceives(
        concat(
          rsv1Frame(Opcode.Text, new Uint8Array([1]), false),
          rsv1Frame(Opcode.Continuation, new Uint8Array([2])),
        ),
        deflateOptions,
      ),
      "ReservedBitsSet",
      1002,
    );
  });

  for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
    test(`RSV1 on a control frame (opcode ${opcode}): 1002`, () => {
      assertFailed(
        serverReceives(rsv1Frame(opcode, new Uint8Array(0)), deflateOptions),
        "ReservedBitsSet",
        1002,
      );
    });
  }

  test("RSV2 and RSV3 stay forbidden with the extension", () => {
    const frame = maskedFrame(Opcode.Text, "x");
    frame[0] |= 0x20;
    assertFailed(
      serverReceives(frame, deflateOptions),
      "ReservedBitsSet",
      1002,
    );
  });

  test("sendCompressed sets RSV1 on one frame; refused without the extension", () => {
    const server = new Protocol({ role: "server", perMessageDeflate: true });
    server.sendCompressed("binary", new Uint8Array([7, 8]));
    const [bytes] = server.takeOutgoing();
    assert.deepEqual(bytes, new Uint8Array([0xc2, 0x02, 7, 8]));
    const plain = new Protocol({ role: "server" });
    assert.throws(
      () => plain.sendCompressed("text", new Uint8Array(1)),
      TypeError,
    );
    server.sendFragment(Opcode.Text, new Uint8Array(1), false, true);
    assert.throws(
      () =>
        server.sendFragment(Opcode.Continuation, new Uint8Array(1), true, true),
      FragmentSequenceError,
    );
  });
});
