// The Protocol state machine's receive limits: message size, frame size
// and fragment count, each failing with 1009.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { Opcode } from "../../../frame/types.ts";
import { concat, maskedFrame } from "../../support/bytes.ts";
import { assertFailed, serverReceives } from "../../support/protocol.ts";

describe("limits", () => {
  test("a message over the limit fails with 1009 before its payload arrives", () => {
    const protocol = new Protocol({ role: "server", maxMessageSize: 1000 });
    assert.deepEqual(
      protocol.receive(maskedFrame(Opcode.Text, "x".repeat(600), false)),
      [],
    );
    // Header only of a 401-byte continuation: 1001 > 1000.
    const next = maskedFrame(Opcode.Continuation, "y".repeat(401));
    const events = protocol.receive(next.slice(0, 8));
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "error");
    assert.equal(events[0].error.rule, "MessageTooLarge");
    assert.equal(events[0].error.closeCode, 1009);
  });

  test("exactly the message limit is accepted", () => {
    const { events } = serverReceives(
      concat(
        maskedFrame(Opcode.Binary, new Uint8Array(600), false),
        maskedFrame(Opcode.Continuation, new Uint8Array(400)),
      ),
      { maxMessageSize: 1000 },
    );
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "binary" && events[0].data.length === 1000);
  });

  test("a frame over the frame limit: 1009", () => {
    assertFailed(
      serverReceives(maskedFrame(Opcode.Binary, new Uint8Array(101)), {
        maxFrameSize: 100,
      }),
      "FrameTooLarge",
      1009,
    );
  });

  test("too many fragments, even empty ones: 1009", () => {
    const parts = [maskedFrame(Opcode.Text, "", false)];
    for (let i = 0; i < 10; i++) {
      parts.push(maskedFrame(Opcode.Continuation, "", false));
    }
    assertFailed(
      serverReceives(concat(...parts), { maxFragments: 10 }),
      "TooManyFragments",
      1009,
    );
    const fine = serverReceives(
      concat(...parts.slice(0, 9), maskedFrame(Opcode.Continuation, "")),
      {
        maxFragments: 10,
      },
    );
    assert.deepEqual(fine.events, [{ type: "text", data: "" }]);
  });

  test("control frames between fragments do not count against the limit", () => {
    const { events } = serverReceives(
      concat(
        maskedFrame(Opcode.Binary, new Uint8Array(100), false),
        maskedFrame(Opcode.Ping, new Uint8Array(125)),
        maskedFrame(Opcode.Continuation, new Uint8Array(0)),
      ),
      { maxMessageSize: 100 },
    );
    assert.deepEqual(events.map((e) => e.type), ["ping", "binary"]);
  });
});
