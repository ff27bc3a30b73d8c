// The Protocol's extension hook (RSV1): RSV1 only with an extension, and a
// compressed message leaves receive() decoded, UTF-8-checked and within
// maxMessageSize, in order with the control frames around it.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { Protocol } from "../../../protocol/protocol.ts";
import type { Extension } from "../../../protocol/extension.ts";
import { PerMessageDeflate } from "../../../deflate/extension.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { FragmentSequenceError, InvalidPayloadError } from "../../../errors.ts";
import { concat, encoder, maskedFrame } from "../../support/bytes.ts";
import { assertFailed, serverReceives } from "../../support/protocol.ts";

function rsv1Frame(
  opcode: Opcode,
  payload: Uint8Array,
  fin = true,
): Uint8Array {
  return encodeFrame(opcode, payload, { fin, rsv1: true, mask: true });
}

/** "Hello" compressed (RFC 7692 section 7.2.3.1). */
const HELLO_DEFLATED = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
/** "Hello" in a stored block (RFC 7692 section 7.2.3.3). */
const HELLO_STORED = [0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c];
const HELLO_STORED_END = [0x6f, 0x00];

/** A peer's payload: raw deflate, sync-flushed, tail stripped. */
function zlibPayload(data: Uint8Array): Uint8Array {
  const flushed = zlib.deflateRawSync(data, {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return new Uint8Array(flushed.subarray(0, flushed.length - 4));
}

const deflate = () => ({ extension: new PerMessageDeflate() });

describe("extension hook (RSV1)", () => {
  test("without an extension, RSV1 is a protocol error", () => {
    assertFailed(
      serverReceives(rsv1Frame(Opcode.Text, encoder.encode("x"))),
      "ReservedBitsSet",
      1002,
    );
  });

  test("a compressed message arrives decoded, reassembled, in order with pings", () => {
    const { events } = serverReceives(
      concat(
        rsv1Frame(
          Opcode.Text,
          new Uint8Array(HELLO_DEFLATED.slice(0, 2)),
          false,
        ),
        maskedFrame(Opcode.Ping, "between"),
        maskedFrame(
          Opcode.Continuation,
          new Uint8Array(HELLO_DEFLATED.slice(2)),
        ),
        rsv1Frame(Opcode.Binary, new Uint8Array(HELLO_STORED), false),
        maskedFrame(Opcode.Pong, "also between"),
        maskedFrame(Opcode.Continuation, new Uint8Array(HELLO_STORED_END)),
        maskedFrame(Opcode.Text, "plain"),
        maskedFrame(Opcode.Close, new Uint8Array([0x03, 0xe8])),
      ),
      deflate(),
    );
    assert.deepEqual(events, [
      { type: "ping", data: encoder.encode("between") },
      { type: "text", data: "Hello" },
      { type: "pong", data: encoder.encode("also between") },
      { type: "binary", data: encoder.encode("Hello") },
      { type: "text", data: "plain" },
      { type: "close", code: 1000, reason: "" },
    ]);
  });

  test("compressed text is checked as UTF-8 once inflated, not on the wire", () => {
    // The compressed bytes are not UTF-8 (0xf2 0x48): accepted.
    assert.deepEqual(
      serverReceives(
        rsv1Frame(Opcode.Text, new Uint8Array(HELLO_DEFLATED)),
        deflate(),
      ).events,
      [{ type: "text", data: "Hello" }],
    );
    // Inflated bytes that are not UTF-8: 1007.
    const invalid = zlibPayload(new Uint8Array([0x48, 0x69, 0xc3, 0x28]));
    const failed = serverReceives(rsv1Frame(Opcode.Text, invalid), deflate());
    assertFailed(failed, "InvalidUtf8", 1007);
    // The same bytes as a binary message are fine.
    assert.deepEqual(
      serverReceives(rsv1Frame(Opcode.Binary, invalid), deflate()).events,
      [{ type: "binary", data: new Uint8Array([0x48, 0x69, 0xc3, 0x28]) }],
    );
  });

  test("invalid DEFLATE data fails with 1007", () => {
    assertFailed(
      serverReceives(
        rsv1Frame(Opcode.Binary, new Uint8Array([0xff, 0xff, 0xff])),
        deflate(),
      ),
      "InvalidCompressedData",
      1007,
    );
  });

  test("a zip bomb stops at maxMessageSize with 1009", () => {
    const bomb = zlibPayload(new Uint8Array(1024 * 1024));
    assert.ok(bomb.length < 2000, "the bomb itself is small");
    const options = { ...deflate(), maxMessageSize: 4096 };
    assertFailed(
      serverReceives(rsv1Frame(Opcode.Binary, bomb), options),
      "MessageTooLarge",
      1009,
    );
    const fits = zlibPayload(new Uint8Array(4096).fill(7));
    assert.deepEqual(
      serverReceives(rsv1Frame(Opcode.Binary, fits), options).events,
      [{ type: "binary", data: new Uint8Array(4096).fill(7) }],
    );
  });

  test("nothing is reported after a message that fails to decode", () => {
    const { events } = serverReceives(
      concat(
        rsv1Frame(Opcode.Text, new Uint8Array([0xff, 0xff])),
        maskedFrame(Opcode.Text, "never"),
        maskedFrame(Opcode.Ping, "never"),
      ),
      deflate(),
    );
    assert.deepEqual(events.map((event) => event.type), ["error"]);
  });

  test("any extension: it gets the joined payload and the limit, once per message", () => {
    const calls: Array<[number[], number]> = [];
    const reversing: Extension = {
      name: "x-reverse",
      decode(payload, maxSize) {
        calls.push([[...payload], maxSize]);
        return payload.slice().reverse();
      },
    };
    const protocol = new Protocol({
      role: "server",
      extension: reversing,
      maxMessageSize: 100,
    });
    const events = protocol.receive(concat(
      rsv1Frame(Opcode.Binary, new Uint8Array([1, 2]), false),
      maskedFrame(Opcode.Continuation, new Uint8Array([3])),
      maskedFrame(Opcode.Binary, new Uint8Array([4, 5])),
      rsv1Frame(Opcode.Text, encoder.encode("olleh")),
    ));
    assert.deepEqual(events, [
      { type: "binary", data: new Uint8Array([3, 2, 1]) },
      { type: "binary", data: new Uint8Array([4, 5]) },
      { type: "text", data: "hello" },
    ]);
    assert.deepEqual(calls, [[[1, 2, 3], 100], [
      [...encoder.encode("olleh")],
      100,
    ]]);
  });

  test("an extension's WebSocketError fails the connection with its code", () => {
    const refusing: Extension = {
      name: "x-refuse",
      decode() {
        throw new InvalidPayloadError("refused", "InvalidCompressedData");
      },
    };
    const protocol = new Protocol({ role: "server", extension: refusing });
    const events = protocol.receive(
      rsv1Frame(Opcode.Binary, new Uint8Array(1)),
    );
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "error");
    assert.equal(events[0].error.closeCode, 1007);
    assert.equal(protocol.closeSent, true);
  });

  test("RSV1 on a continuation frame: 1002", () => {
    assertFailed(
      serverReceives(
        concat(
          rsv1Frame(Opcode.Text, new Uint8Array([1]), false),
          rsv1Frame(Opcode.Continuation, new Uint8Array([2])),
        ),
        deflate(),
      ),
      "ReservedBitsSet",
      1002,
    );
  });

  for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
    test(`RSV1 on a control frame (opcode ${opcode}): 1002`, () => {
      assertFailed(
        serverReceives(rsv1Frame(opcode, new Uint8Array(0)), deflate()),
        "ReservedBitsSet",
        1002,
      );
    });
  }

  test("RSV2 and RSV3 stay forbidden with the extension", () => {
    const frame = maskedFrame(Opcode.Text, "x");
    frame[0] |= 0x20;
    assertFailed(serverReceives(frame, deflate()), "ReservedBitsSet", 1002);
  });

  test("sending: a message from the threshold on is encoded, in one frame with RSV1", () => {
    const extension = new MarkingExtension(4);
    const server = new Protocol({ role: "server", extension });
    server.sendText("abc");
    server.sendText("abcd");
    server.sendBinary(new Uint8Array([7, 8, 9, 10]));
    server.sendBinary(new Uint8Array([7]));
    assert.deepEqual(server.takeOutgoing(), [
      Uint8Array.of(0x81, 3, 0x61, 0x62, 0x63),
      Uint8Array.of(0xc1, 5, 0x61, 0x62, 0x63, 0x64, 0xee),
      Uint8Array.of(0xc2, 5, 7, 8, 9, 10, 0xee),
      Uint8Array.of(0x82, 1, 7),
    ]);
    assert.deepEqual(extension.calls, ["4 end", "4 end"]);
  });

  test("sending: the threshold counts UTF-8 bytes, not UTF-16 units", () => {
    const extension = new MarkingExtension(6);
    const server = new Protocol({ role: "server", extension });
    server.sendText("éé"); // 4 bytes
    server.sendText("ééé"); // 6 bytes, 3 units
    const frames = server.takeOutgoing();
    assert.equal(frames[0][0], 0x81);
    assert.equal(frames[1][0], 0xc1);
  });

  test("sending: compress true and false decide for one message", () => {
    const extension = new MarkingExtension(100);
    const server = new Protocol({ role: "server", extension });
    server.sendText("x", { compress: true });
    server.sendText("y".repeat(200), { compress: false });
    server.sendBinary(new Uint8Array(1), { compress: true });
    const frames = server.takeOutgoing();
    assert.deepEqual(frames.map((frame) => frame[0]), [0xc1, 0x81, 0xc2]);
    // Without an extension that encodes, compress: true sends it as it is.
    for (
      const options of [{}, { extension: new PerMessageDeflate() }]
    ) {
      const plain = new Protocol({ role: "server", ...options });
      plain.sendText("x", { compress: true });
      assert.deepEqual(plain.takeOutgoing(), [Uint8Array.of(0x81, 1, 0x78)]);
    }
  });

  test("sending: a compressed message in fragments is encoded part by part, RSV1 on the first frame", () => {
    const extension = new MarkingExtension(0);
    const server = new Protocol({ role: "server", extension });
    server.sendFragment(Opcode.Text, encoder.encode("ab"), false, true);
    server.ping();
    server.sendFragment(Opcode.Continuation, encoder.encode("c"), true);
    server.sendFragment(Opcode.Binary, new Uint8Array([1]), true);
    assert.deepEqual(server.takeOutgoing(), [
      Uint8Array.of(0x41, 2, 0x61, 0x62),
      Uint8Array.of(0x89, 0),
      Uint8Array.of(0x80, 2, 0x63, 0xee),
      Uint8Array.of(0x82, 1, 1),
    ]);
    assert.deepEqual(extension.calls, ["2", "1 end"]);
    assert.throws(
      () =>
        new Protocol({ role: "server" }).sendFragment(
          Opcode.Text,
          new Uint8Array(1),
          false,
          true,
        ),
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

/** An extension that "encodes" by appending 0xee at a message's end, and
 * records each call. */
class MarkingExtension implements Extension {
  readonly name = "x-marking";
  readonly calls: string[] = [];
  readonly threshold: number;

  constructor(threshold: number) {
    this.threshold = threshold;
  }

  decode(payload: Uint8Array): Uint8Array {
    return payload.slice();
  }

  encode(data: Uint8Array, end: boolean): Uint8Array {
    this.calls.push(`${data.length}${end ? " end" : ""}`);
    return end ? concat(data, Uint8Array.of(0xee)) : data.slice();
  }
}
