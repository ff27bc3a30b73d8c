// The close handshake in the Protocol state machine: close codes, the
// peer's close echoed, a local close, and the argument checks of close().

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeClosePayload,
  isValidCloseCode,
} from "../../../frame/close_payload.ts";
import { Protocol } from "../../../protocol/protocol.ts";
import { ReadyState } from "../../../protocol/types.ts";
import { Opcode } from "../../../frame/types.ts";
import { InvalidStateError } from "../../../errors.ts";
import { concat, maskedFrame } from "../../support/bytes.ts";
import {
  assertFailed,
  closeCodeOf,
  decodeSent,
  serverReceives,
} from "../../support/protocol.ts";

describe("the close handshake", () => {
  test("valid and invalid close codes", () => {
    const valid = [
      1000,
      1001,
      1002,
      1003,
      1007,
      1008,
      1009,
      1010,
      1011,
      1012,
      1013,
      1014,
      3000,
      3999,
      4000,
      4999,
    ];
    const invalid = [
      0,
      999,
      1004,
      1005,
      1006,
      1015,
      1016,
      1100,
      2000,
      2999,
      5000,
      65535,
    ];
    for (const code of valid) {
      assert.equal(isValidCloseCode(code), true, `${code}`);
    }
    for (const code of invalid) {
      assert.equal(isValidCloseCode(code), false, `${code}`);
    }
  });

  for (const code of [1000, 1001, 1003, 1011, 3000, 4999]) {
    test(`peer closes with ${code}: code and reason echoed, state CLOSED`, () => {
      const { events, sent, protocol } = serverReceives(
        maskedFrame(Opcode.Close, encodeClosePayload(code, "bye")),
      );
      assert.deepEqual(events, [{ type: "close", code, reason: "bye" }]);
      assert.equal(sent.length, 1);
      assert.equal(sent[0].opcode, Opcode.Close);
      assert.deepEqual(sent[0].payload, encodeClosePayload(code, "bye"));
      assert.equal(closeCodeOf(sent[0].payload), code);
      assert.equal(protocol.readyState, ReadyState.CLOSED);
      assert.equal(protocol.closeReceived, true);
      assert.throws(() => protocol.sendText("late"), InvalidStateError);
    });
  }

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 2000, 5000]) {
    test(`peer closes with invalid code ${code}: 1002`, () => {
      const payload = new Uint8Array([code >> 8, code & 0xff]);
      assertFailed(
        serverReceives(maskedFrame(Opcode.Close, payload)),
        "InvalidCloseCode",
        1002,
      );
    });
  }

  test("an empty close is reported as 1005 and echoed empty", () => {
    const { events, sent } = serverReceives(maskedFrame(Opcode.Close));
    assert.deepEqual(events, [{ type: "close", code: 1005, reason: "" }]);
    assert.deepEqual(sent, [{
      opcode: Opcode.Close,
      payload: new Uint8Array(0),
    }]);
  });

  test("a one-byte close payload: 1002", () => {
    assertFailed(
      serverReceives(maskedFrame(Opcode.Close, new Uint8Array([3]))),
      "CloseFrameTooShort",
      1002,
    );
  });

  test("a close reason that is not UTF-8: 1007", () => {
    assertFailed(
      serverReceives(
        maskedFrame(Opcode.Close, new Uint8Array([0x03, 0xe8, 0xc0, 0x80])),
      ),
      "InvalidUtf8",
      1007,
    );
  });

  test("frames after the peer's close are ignored", () => {
    const { events } = serverReceives(concat(
      maskedFrame(Opcode.Close, encodeClosePayload(1000)),
      maskedFrame(Opcode.Text, "ignored"),
    ));
    assert.deepEqual(events.map((e) => e.type), ["close"]);
  });

  test("locally initiated close: CLOSING, data refused, then CLOSED on the reply", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.close(4000, "done");
    assert.equal(protocol.readyState, ReadyState.CLOSING);
    const [sentClose] = decodeSent(protocol, false);
    assert.equal(closeCodeOf(sentClose.payload), 4000);
    assert.equal(
      new TextDecoder().decode(sentClose.payload.subarray(2)),
      "done",
    );
    assert.throws(() => protocol.sendText("x"), InvalidStateError);
    assert.throws(
      () => protocol.sendBinary(new Uint8Array(1)),
      InvalidStateError,
    );
    assert.throws(() => protocol.ping(), InvalidStateError);
    protocol.close(1000); // a second close is a no-op
    assert.deepEqual(protocol.takeOutgoing(), []);
    // The peer may still send data before it sees our close; then it replies.
    const events = protocol.receive(concat(
      maskedFrame(Opcode.Text, "in flight"),
      maskedFrame(Opcode.Ping, "p"),
      maskedFrame(Opcode.Close, encodeClosePayload(4000)),
    ));
    assert.deepEqual(events.map((e) => e.type), ["text", "ping", "close"]);
    assert.equal(protocol.readyState, ReadyState.CLOSED);
    // No pong and no second close after our close frame.
    assert.deepEqual(protocol.takeOutgoing(), []);
  });

  test("close() without a code sends an empty close frame", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.close();
    assert.deepEqual(decodeSent(protocol, false), [
      { opcode: Opcode.Close, payload: new Uint8Array(0) },
    ]);
  });

  test("close() argument checks", () => {
    const protocol = new Protocol({ role: "server" });
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) {
      assert.throws(() => protocol.close(code), RangeError, `${code}`);
    }
    assert.throws(() => protocol.close(1000, "é".repeat(62)), RangeError); // 124 bytes
    assert.throws(() => protocol.close(undefined, "reason"), RangeError);
    assert.equal(protocol.readyState, ReadyState.OPEN);
    protocol.close(1000, "é".repeat(61) + "a"); // 123 bytes: fine
    assert.equal(protocol.readyState, ReadyState.CLOSING);
  });
});
