// The Protocol state machine receiving data: text and binary messages,
// fragmentation with control frames between fragments, and the protocol
// errors of a broken fragment sequence.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { concat, encoder, maskedFrame } from "../../support/bytes.ts";
import { assertFailed, serverReceives } from "../../support/protocol.ts";

describe("messages", () => {
  test("text and binary messages, zero and non-zero length", () => {
    const { events } = serverReceives(concat(
      maskedFrame(Opcode.Text, "héllo €𝄞"),
      maskedFrame(Opcode.Text, ""),
      maskedFrame(Opcode.Binary, new Uint8Array([0, 1, 255])),
      maskedFrame(Opcode.Binary),
    ));
    assert.deepEqual(events, [
      { type: "text", data: "héllo €𝄞" },
      { type: "text", data: "" },
      { type: "binary", data: new Uint8Array([0, 1, 255]) },
      { type: "binary", data: new Uint8Array(0) },
    ]);
  });

  test("a leading byte order mark is kept", () => {
    const { events } = serverReceives(
      maskedFrame(Opcode.Text, new Uint8Array([0xef, 0xbb, 0xbf, 0x41])),
    );
    assert.deepEqual(events, [{ type: "text", data: "\ufeffA" }]);
  });

  test("ping and pong data are owned copies, not views of the input", () => {
    // Binary messages may be views (see read_buffer_reuse_test.ts); control
    // payloads are tiny and rare, so they are copied.
    const protocol = new Protocol({ role: "server" });
    const chunk = concat(
      maskedFrame(Opcode.Ping, new Uint8Array([1, 2, 3])),
      maskedFrame(Opcode.Pong, new Uint8Array([4, 5])),
    );
    const [ping, pong] = protocol.receive(chunk);
    chunk.fill(0);
    assert.deepEqual(ping, { type: "ping", data: new Uint8Array([1, 2, 3]) });
    assert.deepEqual(pong, { type: "pong", data: new Uint8Array([4, 5]) });
  });

  test("fragmented messages with pings between the fragments", () => {
    const { events, sent } = serverReceives(concat(
      maskedFrame(Opcode.Text, "Hel", false),
      maskedFrame(Opcode.Ping, "a"),
      maskedFrame(Opcode.Continuation, "", false),
      maskedFrame(Opcode.Pong, "b"),
      maskedFrame(Opcode.Continuation, "lo"),
      maskedFrame(Opcode.Binary, new Uint8Array([1]), false),
      maskedFrame(Opcode.Continuation, new Uint8Array([2, 3])),
    ));
    assert.deepEqual(events, [
      { type: "ping", data: encoder.encode("a") },
      { type: "pong", data: encoder.encode("b") },
      { type: "text", data: "Hello" },
      { type: "binary", data: new Uint8Array([1, 2, 3]) },
    ]);
    assert.deepEqual(sent, [{
      opcode: Opcode.Pong,
      payload: encoder.encode("a"),
    }]);
  });

  test("a large fragmented message is reassembled exactly", () => {
    const whole = new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff);
    const parts = [];
    for (let start = 0; start < whole.length; start += 7_001) {
      const end = Math.min(start + 7_001, whole.length);
      parts.push(maskedFrame(
        start === 0 ? Opcode.Binary : Opcode.Continuation,
        whole.slice(start, end),
        end === whole.length,
      ));
    }
    const protocol = new Protocol({ role: "server" });
    const events = protocol.receive(concat(...parts));
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "binary");
    assert.deepEqual(events[0].data, whole);
  });

  test("continuation with no message started: 1002", () => {
    assertFailed(
      serverReceives(maskedFrame(Opcode.Continuation, "x")),
      "UnexpectedContinuation",
      1002,
    );
  });

  test("a new data frame while a message is open: 1002", () => {
    assertFailed(
      serverReceives(concat(
        maskedFrame(Opcode.Text, "a", false),
        maskedFrame(Opcode.Binary, "b"),
      )),
      "ExpectedContinuation",
      1002,
    );
  });

  test("nothing after a protocol error is delivered", () => {
    const { events } = serverReceives(concat(
      maskedFrame(Opcode.Text, "before"),
      maskedFrame(Opcode.Continuation, "x"),
      maskedFrame(Opcode.Text, "after"),
    ));
    assert.deepEqual(events.map((e) => e.type), ["text", "error"]);
  });

  test("framing errors from the decoder close with their code", () => {
    assertFailed(
      serverReceives(encodeFrame(Opcode.Text, encoder.encode("unmasked"))),
      "UnmaskedFrameFromClient",
      1002,
    );
  });
});
