// UTF-8 in text messages received by the Protocol state machine: invalid
// sequences fail with 1007, whole or fragmented, and valid ones split across
// fragments are reassembled.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { Opcode } from "../../../frame/types.ts";
import { concat, maskedFrame } from "../../support/bytes.ts";
import { assertFailed, serverReceives } from "../../support/protocol.ts";

describe("UTF-8 in text messages", () => {
  const invalid: [string, number[]][] = [
    ["overlong two-byte NUL", [0xc0, 0x80]],
    ["overlong three-byte slash", [0xe0, 0x80, 0xaf]],
    ["overlong four-byte", [0xf0, 0x8f, 0xbf, 0xbf]],
    ["high surrogate U+D800", [0xed, 0xa0, 0x80]],
    ["low surrogate U+DFFF", [0xed, 0xbf, 0xbf]],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["0xF5 lead byte", [0xf5, 0x80, 0x80, 0x80]],
    ["0xFF byte", [0xff]],
    ["lone continuation byte", [0x80]],
    ["truncated at message end", [0x41, 0xe2, 0x82]],
  ];

  for (const [name, bytes] of invalid) {
    test(`single frame, ${name}: 1007`, () => {
      assertFailed(
        serverReceives(maskedFrame(Opcode.Text, new Uint8Array(bytes))),
        "InvalidUtf8",
        1007,
      );
    });
    test(`fragmented, ${name}: 1007`, () => {
      assertFailed(
        serverReceives(concat(
          maskedFrame(Opcode.Text, new Uint8Array(bytes.slice(0, 1)), false),
          maskedFrame(Opcode.Continuation, new Uint8Array(bytes.slice(1))),
        )),
        "InvalidUtf8",
        1007,
      );
    });
  }

  test("a valid multi-byte character split across fragments", () => {
    const euro = [0xe2, 0x82, 0xac];
    const clef = [0xf0, 0x9d, 0x84, 0x9e];
    const { events } = serverReceives(concat(
      maskedFrame(Opcode.Text, new Uint8Array([euro[0]]), false),
      maskedFrame(Opcode.Continuation, new Uint8Array([euro[1]]), false),
      maskedFrame(
        Opcode.Continuation,
        new Uint8Array([euro[2], clef[0], clef[1]]),
        false,
      ),
      maskedFrame(Opcode.Continuation, new Uint8Array([clef[2], clef[3]])),
    ));
    assert.deepEqual(events, [{ type: "text", data: "€𝄞" }]);
  });

  test("fails fast inside a fragment, before the message ends", () => {
    const protocol = new Protocol({ role: "server" });
    const events = protocol.receive(concat(
      maskedFrame(Opcode.Text, "valid start", false),
      maskedFrame(Opcode.Continuation, new Uint8Array([0xc0, 0x80]), false),
    ));
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "error");
    assert.equal(events[0].error.closeCode, 1007);
  });
});

describe("text decoding edge cases", () => {
  test("a real U+FFFD sent by the peer is kept, an invalid byte is refused", () => {
    const { events } = serverReceives(maskedFrame(Opcode.Text, "a\ufffdb"));
    assert.deepEqual(events, [{ type: "text", data: "a\ufffdb" }]);
    assertFailed(
      serverReceives(
        maskedFrame(
          Opcode.Text,
          new Uint8Array([0x61, 0xef, 0xbf, 0xbd, 0xff]),
        ),
      ),
      "InvalidUtf8",
      1007,
    );
  });

  test("a payload gathered across chunks is handed out without another copy", () => {
    const protocol = new Protocol({ role: "server" });
    const frame = maskedFrame(Opcode.Binary, new Uint8Array(1000).fill(3));
    assert.deepEqual(protocol.receive(frame.slice(0, 500)), []);
    const [event] = protocol.receive(frame.slice(500));
    assert.ok(event.type === "binary");
    assert.equal(event.data.length, 1000);
    assert.equal(event.data.buffer.byteLength, 1000);
    assert.ok(event.data.every((byte) => byte === 3));
  });
});
