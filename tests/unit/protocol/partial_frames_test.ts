// A frame whose payload arrives in pieces: invalid UTF-8 in a text frame
// fails the connection (1007) when the piece holding it arrives, before the
// frame is complete; a frame header that breaks the message sequence fails
// when the header arrives. Valid text, binary and compressed payloads in
// pieces are not affected. Both roles.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import type { ProtocolEvent } from "../../../protocol/types.ts";
import { PerMessageDeflate } from "../../../deflate/extension.ts";
import { Opcode } from "../../../frame/types.ts";
import { encoder } from "../../support/bytes.ts";
import {
  assertFailed,
  closeCodeOf,
  decodeSent,
  serverReceives,
} from "../../support/protocol.ts";
import {
  handFrame,
  invalidTextInPieces,
  joinBytes,
  type Sender,
} from "../../support/strict_cases.ts";

const senderTo = (role: "server" | "client"): Sender =>
  role === "server" ? "client" : "server";

/** Feeds `pieces` one receive() at a time until an error event. */
function feedUntilError(protocol: Protocol, pieces: readonly Uint8Array[]) {
  const events: ProtocolEvent[] = [];
  for (let index = 0; index < pieces.length; index++) {
    events.push(...protocol.receive(pieces[index].slice()));
    if (events.at(-1)?.type === "error") return { events, failedAt: index };
  }
  return { events, failedAt: -1 };
}

/** Summaries of events: the text, or the type and close code. */
function summary(events: ProtocolEvent[]): unknown[] {
  return events.map((event) => {
    if (event.type === "text") return event.data;
    if (event.type === "error") {
      return `${event.error.rule} ${event.error.closeCode}`;
    }
    return event.type;
  });
}

for (const role of ["server", "client"] as const) {
  describe(`invalid UTF-8 inside a frame in pieces (${role})`, () => {
    for (const piecewise of invalidTextInPieces(senderTo(role))) {
      test(`${piecewise.name}: 1007 at piece ${piecewise.failsAt}`, () => {
        const protocol = new Protocol({ role });
        const { events, failedAt } = feedUntilError(protocol, piecewise.pieces);
        assert.equal(failedAt, piecewise.failsAt);
        assert.deepEqual(summary(events), [
          ...piecewise.delivered,
          "InvalidUtf8 1007",
        ]);
        const sent = decodeSent(protocol, role === "client");
        assert.equal(sent.at(-1)?.opcode, Opcode.Close);
        assert.equal(closeCodeOf(sent.at(-1)!.payload), 1007);
      });
    }
  });
}

describe("valid payloads in pieces", () => {
  /** Every character width, a BOM and a real U+FFFD. */
  const text = "\ufeffa é € 😀 \ufffd κόσμε";
  const payload = encoder.encode(text);

  test("valid text split at every byte, whole and fragmented, is delivered", () => {
    const whole = handFrame("client", Opcode.Text, payload);
    const fragmented = joinBytes(
      handFrame("client", Opcode.Text, payload.subarray(0, 7), {
        fin: false,
      }),
      handFrame("client", Opcode.Continuation, payload.subarray(7)),
    );
    for (const bytes of [whole, fragmented]) {
      for (let cut = 1; cut < bytes.length; cut++) {
        const protocol = new Protocol({ role: "server" });
        const events = [
          ...protocol.receive(bytes.slice(0, cut)),
          ...protocol.receive(bytes.slice(cut)),
        ];
        assert.deepEqual(events, [{ type: "text", data: text }], `cut ${cut}`);
      }
      const protocol = new Protocol({ role: "server" });
      const events: ProtocolEvent[] = [];
      for (const byte of bytes) {
        events.push(...protocol.receive(new Uint8Array([byte])));
      }
      assert.deepEqual(events, [{ type: "text", data: text }], "bytewise");
    }
  });

  test("a 100 KiB text frame in pieces of every size is delivered whole", () => {
    const long = "κόσμε a € 😀 ".repeat(5000);
    const bytes = handFrame("client", Opcode.Text, encoder.encode(long));
    for (const size of [1000, 7001, 20_000, 65_536]) {
      const protocol = new Protocol({ role: "server" });
      const events: ProtocolEvent[] = [];
      for (let start = 0; start < bytes.length; start += size) {
        events.push(...protocol.receive(bytes.slice(start, start + size)));
      }
      assert.equal(events.length, 1, `pieces of ${size}`);
      assert.ok(events[0].type === "text");
      assert.ok(events[0].data === long, `pieces of ${size}`);
    }
  });

  test("a bad byte 40 KiB into a text frame fails with the piece holding it", () => {
    const payload = encoder.encode("€".repeat(20_000));
    payload[40_000] = 0xff;
    const bytes = handFrame("client", Opcode.Text, payload);
    const protocol = new Protocol({ role: "server" });
    const size = 16_384;
    for (let start = 0; start < bytes.length; start += size) {
      const events = protocol.receive(bytes.slice(start, start + size));
      if (events.length > 0) {
        assert.deepEqual(summary(events), ["InvalidUtf8 1007"]);
        // 8 header bytes: the bad byte is in the third piece.
        assert.equal(start, 2 * size);
        return;
      }
    }
    assert.fail("no error");
  });

  test("a text frame ending inside a character still fails when complete", () => {
    const bytes = handFrame(
      "client",
      Opcode.Text,
      new Uint8Array([0x61, 0xe2]),
    );
    const protocol = new Protocol({ role: "server" });
    assert.deepEqual(protocol.receive(bytes.slice(0, 7)), []);
    assert.deepEqual(summary(protocol.receive(bytes.slice(7))), [
      "InvalidUtf8 1007",
    ]);
  });

  test("binary payloads in pieces are not read as text", () => {
    const bytes = handFrame(
      "client",
      Opcode.Binary,
      new Uint8Array([0xff, 0xf4, 0x90]),
    );
    const protocol = new Protocol({ role: "server" });
    const events: ProtocolEvent[] = [];
    for (const byte of bytes) {
      events.push(...protocol.receive(new Uint8Array([byte])));
    }
    assert.deepEqual(events, [
      { type: "binary", data: new Uint8Array([0xff, 0xf4, 0x90]) },
    ]);
  });

  test("a compressed text frame in pieces is checked once inflated", () => {
    // A final stored DEFLATE block holding "héllo": its header bytes
    // (01 06 00 f9 ff) are not UTF-8, its content is.
    const content = encoder.encode("héllo");
    const deflated = joinBytes(
      new Uint8Array([
        0x01,
        content.length,
        0x00,
        ~content.length & 0xff,
        0xff,
      ]),
      content,
    );
    const bytes = handFrame("client", Opcode.Text, deflated, { rsv: 4 });
    const protocol = new Protocol({
      role: "server",
      extension: new PerMessageDeflate(),
    });
    const events: ProtocolEvent[] = [];
    for (const byte of bytes) {
      events.push(...protocol.receive(new Uint8Array([byte])));
    }
    assert.deepEqual(events, [{ type: "text", data: "héllo" }]);
  });
});

describe("a frame header that breaks the message sequence fails at once", () => {
  test("a text frame inside a fragmented message: 1002 before its payload", () => {
    const protocol = new Protocol({ role: "server" });
    const opening = handFrame("client", Opcode.Text, "first", { fin: false });
    const intruder = handFrame("client", Opcode.Text, "x".repeat(100));
    const events = protocol.receive(joinBytes(opening, intruder.slice(0, 10)));
    assert.deepEqual(summary(events), ["ExpectedContinuation 1002"]);
  });

  test("a continuation with nothing to continue: 1002 before its payload", () => {
    const protocol = new Protocol({ role: "server" });
    const stray = handFrame("client", Opcode.Continuation, "y".repeat(100));
    const events = protocol.receive(stray.slice(0, 10));
    assert.deepEqual(summary(events), ["UnexpectedContinuation 1002"]);
  });

  test("a fragment past maxFragments with bad UTF-8: 1009 however it is split", () => {
    // Both rules are broken; the count is known from the header, so it fails
    // first whether the fragment arrives whole or byte by byte.
    const bytes = joinBytes(
      handFrame("client", Opcode.Text, "a", { fin: false }),
      handFrame("client", Opcode.Continuation, "b", { fin: false }),
      handFrame("client", Opcode.Continuation, new Uint8Array([0xff, 0x41])),
    );
    assertFailed(
      serverReceives(bytes, { maxFragments: 2 }),
      "TooManyFragments",
      1009,
    );
  });

  test("a ping between fragments arriving in pieces does not disturb the text", () => {
    const bytes = joinBytes(
      handFrame("client", Opcode.Text, "a\u00e9", { fin: false }),
      handFrame("client", Opcode.Ping, new Uint8Array([0xff, 0xfe])),
      handFrame("client", Opcode.Continuation, "b"),
    );
    const protocol = new Protocol({ role: "server" });
    const events: ProtocolEvent[] = [];
    for (const byte of bytes) {
      events.push(...protocol.receive(new Uint8Array([byte])));
    }
    assert.deepEqual(summary(events), ["ping", "a\u00e9b"]);
  });
});
