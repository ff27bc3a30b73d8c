// Protocol.push + nextEvent: events are read one at a time, so a reply to a
// message is queued before the close frame a later frame of the same chunk
// makes the protocol send. Both roles, with the cases of
// tests/support/strict_cases.ts.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { type ProtocolEvent, ReadyState } from "../../../protocol/types.ts";
import { Opcode } from "../../../frame/types.ts";
import { decoder } from "../../support/bytes.ts";
import { closeCodeOf, decodeSent } from "../../support/protocol.ts";
import {
  handFrame,
  joinBytes,
  messageThenBreak,
  type Sender,
} from "../../support/strict_cases.ts";

/** The peer of `role`: who sends it the bytes. */
const senderTo = (role: "server" | "client"): Sender =>
  role === "server" ? "client" : "server";

/** Pushes `bytes` in one chunk and echoes every text message as it comes;
 * returns the events and the frames queued, in order. */
function echoEachEvent(role: "server" | "client", bytes: Uint8Array) {
  const protocol = new Protocol({ role });
  const events: ProtocolEvent[] = [];
  protocol.push(bytes);
  for (let event = protocol.nextEvent(); event; event = protocol.nextEvent()) {
    events.push(event);
    if (event.type === "text") protocol.sendText(event.data);
  }
  const sent = decodeSent(protocol, role === "client").map((frame) => ({
    opcode: frame.opcode,
    text: frame.opcode === Opcode.Close
      ? closeCodeOf(frame.payload)
      : decoder.decode(frame.payload),
  }));
  return { protocol, events, sent };
}

for (const role of ["server", "client"] as const) {
  describe(`Protocol.nextEvent (${role}): a reply goes out before a later failure`, () => {
    for (const broken of messageThenBreak(senderTo(role))) {
      test(`${broken.name}: the echo, then close ${broken.code}`, () => {
        const { protocol, events, sent } = echoEachEvent(role, broken.bytes);
        assert.deepEqual(
          events.map((event) =>
            event.type === "text" ? event.data : event.type
          ),
          [...broken.delivered, "error"],
        );
        const last = events.at(-1);
        assert.ok(last?.type === "error");
        assert.equal(last.error.closeCode, broken.code);
        // No pong: the ping after the broken frame is never read.
        assert.deepEqual(sent, [
          ...broken.delivered.map((text) => ({ opcode: Opcode.Text, text })),
          { opcode: Opcode.Close, text: broken.code },
        ]);
        assert.equal(protocol.readyState, ReadyState.CLOSED);
        assert.equal(protocol.nextEvent(), undefined);
      });
    }
  });
}

describe("Protocol.nextEvent: one event at a time", () => {
  test("a reply to each message comes before the pong to a later ping", () => {
    const { events, sent } = echoEachEvent(
      "server",
      joinBytes(
        handFrame("client", Opcode.Text, "one"),
        handFrame("client", Opcode.Ping, "p"),
        handFrame("client", Opcode.Text, "two"),
      ),
    );
    assert.deepEqual(events.map((event) => event.type), [
      "text",
      "ping",
      "text",
    ]);
    assert.deepEqual(sent, [
      { opcode: Opcode.Text, text: "one" },
      { opcode: Opcode.Pong, text: "p" },
      { opcode: Opcode.Text, text: "two" },
    ]);
  });

  test("a reply to a message comes before the echo of a close behind it", () => {
    const { events, sent } = echoEachEvent(
      "server",
      joinBytes(
        handFrame("client", Opcode.Text, "last words"),
        handFrame("client", Opcode.Close, new Uint8Array([0x03, 0xe8])),
      ),
    );
    assert.deepEqual(events, [
      { type: "text", data: "last words" },
      { type: "close", code: 1000, reason: "" },
    ]);
    assert.deepEqual(sent, [
      { opcode: Opcode.Text, text: "last words" },
      { opcode: Opcode.Close, text: 1000 },
    ]);
  });

  test("receive() returns the same events as push and nextEvent", () => {
    for (const broken of messageThenBreak("client")) {
      const protocol = new Protocol({ role: "server" });
      const events = protocol.receive(broken.bytes.slice());
      const pulled = echoEachEvent("server", broken.bytes.slice()).events;
      assert.deepEqual(
        events.map((event) => event.type),
        pulled.map((event) => event.type),
        broken.name,
      );
    }
  });

  test("nothing is read once the connection failed, and push is ignored", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.push(handFrame("client", 0x3, "reserved"));
    assert.equal(protocol.nextEvent()?.type, "error");
    protocol.push(handFrame("client", Opcode.Text, "late"));
    assert.equal(protocol.nextEvent(), undefined);
    assert.deepEqual(protocol.receive(handFrame("client", Opcode.Ping)), []);
  });
});
