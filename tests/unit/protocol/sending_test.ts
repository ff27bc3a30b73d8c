// What the Protocol state machine sends: masking by role, fragments,
// control payload limits, and pre-encoded frames for fan-out.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { PerMessageDeflate } from "../../../deflate/extension.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { FragmentSequenceError, InvalidStateError } from "../../../errors.ts";
import { encoder } from "../../support/bytes.ts";
import { decodeSent } from "../../support/protocol.ts";

describe("sending", () => {
  test("a server sends unmasked frames, a client masked ones", () => {
    const server = new Protocol({ role: "server" });
    server.sendText("hi");
    server.sendBinary(new Uint8Array([1, 2]));
    server.ping(new Uint8Array([9]));
    server.pong();
    assert.equal(server.bufferedOutgoing, 4 + 4 + 3 + 2);
    assert.deepEqual(decodeSent(server, false), [
      { opcode: Opcode.Text, payload: encoder.encode("hi") },
      { opcode: Opcode.Binary, payload: new Uint8Array([1, 2]) },
      { opcode: Opcode.Ping, payload: new Uint8Array([9]) },
      { opcode: Opcode.Pong, payload: new Uint8Array(0) },
    ]);
    assert.equal(server.bufferedOutgoing, 0);

    const clientSide = new Protocol({ role: "client" });
    clientSide.sendText("hi");
    assert.deepEqual(decodeSent(clientSide, true), [
      { opcode: Opcode.Text, payload: encoder.encode("hi") },
    ]);
  });

  test("a client rejects masked frames from a server", () => {
    const clientSide = new Protocol({ role: "client" });
    const events = clientSide.receive(
      encodeFrame(Opcode.Text, encoder.encode("x"), { mask: true }),
    );
    assert.ok(events[0].type === "error");
    assert.equal(events[0].error.rule, "MaskedFrameFromServer");
  });

  test("fragments sent by sendFragment are reassembled by a peer", () => {
    const clientSide = new Protocol({ role: "client" });
    clientSide.sendFragment(Opcode.Text, encoder.encode("ab"), false);
    clientSide.sendFragment(Opcode.Continuation, encoder.encode("c"), true);
    const server = new Protocol({ role: "server" });
    const events = clientSide.takeOutgoing().flatMap((bytes) =>
      server.receive(bytes)
    );
    assert.deepEqual(events, [{ type: "text", data: "abc" }]);
  });

  test("control frames may go between fragments", () => {
    const clientSide = new Protocol({ role: "client" });
    clientSide.sendFragment(Opcode.Binary, new Uint8Array([1]), false);
    clientSide.ping(new Uint8Array([9]));
    clientSide.pong();
    clientSide.sendFragment(Opcode.Continuation, new Uint8Array([2]), true);
    clientSide.sendText("next");
    const server = new Protocol({ role: "server" });
    const events = clientSide.takeOutgoing().flatMap((bytes) =>
      server.receive(bytes)
    );
    assert.deepEqual(events, [
      { type: "ping", data: new Uint8Array([9]) },
      { type: "pong", data: new Uint8Array(0) },
      { type: "binary", data: new Uint8Array([1, 2]) },
      { type: "text", data: "next" },
    ]);
  });

  test("control payloads over 125 bytes are refused", () => {
    const protocol = new Protocol({ role: "server" });
    assert.throws(() => protocol.ping(new Uint8Array(126)), RangeError);
    protocol.ping(new Uint8Array(125));
    assert.equal(protocol.takeOutgoing().length, 1);
  });
});

describe("pre-encoded frames (fan-out)", () => {
  test("the same bytes are queued as they are, on the server role only", () => {
    const frame = encodeFrame(Opcode.Text, encoder.encode("to all"));
    const server = new Protocol({ role: "server" });
    server.sendEncodedFrame(frame);
    const [queued] = server.takeOutgoing();
    assert.equal(queued, frame);
    const clientSide = new Protocol({ role: "client" });
    assert.throws(() => clientSide.sendEncodedFrame(frame), TypeError);
    server.close(1000);
    assert.throws(() => server.sendEncodedFrame(frame), InvalidStateError);
  });
});

describe("sending: fragment order (RFC 6455 section 5.4)", () => {
  /** A server protocol in the middle of a fragmented text message. */
  function midMessage(): Protocol {
    const server = new Protocol({
      role: "server",
      extension: new PerMessageDeflate(),
    });
    server.sendFragment(Opcode.Text, encoder.encode("ab"), false);
    return server;
  }

  function assertRefused(send: () => void, rule: string): void {
    assert.throws(send, (error: unknown) => {
      assert.ok(error instanceof FragmentSequenceError, String(error));
      assert.ok(error instanceof InvalidStateError);
      assert.equal(error.rule, rule);
      return true;
    });
  }

  const frame = encodeFrame(Opcode.Text, encoder.encode("to all"));
  const newMessages: Array<[string, (server: Protocol) => void]> = [
    ["sendText", (server) => server.sendText("x")],
    ["sendBinary", (server) => server.sendBinary(new Uint8Array(1))],
    [
      "sendText compressed",
      (server) => server.sendText("x", { compress: true }),
    ],
    ["sendEncodedFrame", (server) => server.sendEncodedFrame(frame)],
    [
      "sendFragment(Text)",
      (server) => server.sendFragment(Opcode.Text, EMPTY, true),
    ],
    [
      "sendFragment(Binary)",
      (server) => server.sendFragment(Opcode.Binary, EMPTY, false),
    ],
  ];
  for (const [name, send] of newMessages) {
    test(`${name} while a fragmented message is open is refused, nothing queued`, () => {
      const server = midMessage();
      const queued = server.bufferedOutgoing;
      assertRefused(() => send(server), "ExpectedContinuation");
      assert.equal(server.bufferedOutgoing, queued);
      // The message can still be finished, and then a new one sent.
      server.sendFragment(Opcode.Continuation, encoder.encode("c"), true);
      send(server);
    });
  }

  test("a continuation with no fragmented message open is refused", () => {
    const server = new Protocol({ role: "server" });
    assertRefused(
      () => server.sendFragment(Opcode.Continuation, EMPTY, true),
      "UnexpectedContinuation",
    );
    server.sendFragment(Opcode.Binary, EMPTY, false);
    server.sendFragment(Opcode.Continuation, EMPTY, true);
    assertRefused(
      () => server.sendFragment(Opcode.Continuation, EMPTY, true),
      "UnexpectedContinuation",
    );
    server.sendText("whole");
    assertRefused(
      () => server.sendFragment(Opcode.Continuation, EMPTY, false),
      "UnexpectedContinuation",
    );
  });

  test("a continuation marked compressed is refused", () => {
    const server = midMessage();
    assertRefused(
      () => server.sendFragment(Opcode.Continuation, EMPTY, true, true),
      "ReservedBitsSet",
    );
  });

  test("what is accepted is a stream the peer reads without error", () => {
    const clientSide = new Protocol({ role: "client" });
    clientSide.sendFragment(Opcode.Text, encoder.encode("a"), false);
    assert.throws(() => clientSide.sendText("b"), FragmentSequenceError);
    assert.throws(
      () => clientSide.sendFragment(Opcode.Binary, EMPTY, true),
      FragmentSequenceError,
    );
    clientSide.sendFragment(Opcode.Continuation, encoder.encode("c"), true);
    assert.throws(
      () => clientSide.sendFragment(Opcode.Continuation, EMPTY, true),
      FragmentSequenceError,
    );
    const server = new Protocol({ role: "server" });
    const events = clientSide.takeOutgoing().flatMap((bytes) =>
      server.receive(bytes)
    );
    assert.deepEqual(events, [{ type: "text", data: "ac" }]);
  });

  test("takeOutgoingFrame hands frames over one at a time, in order", () => {
    const server = new Protocol({ role: "server" });
    server.sendBinary(Uint8Array.of(1));
    server.sendBinary(Uint8Array.of(2));
    assert.deepEqual(server.takeOutgoingFrame(), Uint8Array.of(0x82, 1, 1));
    assert.equal(server.bufferedOutgoing, 3);
    // Queued while one is still waiting: it comes after it.
    server.sendBinary(Uint8Array.of(3));
    assert.deepEqual(server.takeOutgoingFrame(), Uint8Array.of(0x82, 1, 2));
    assert.deepEqual(server.takeOutgoing(), [Uint8Array.of(0x82, 1, 3)]);
    assert.equal(server.takeOutgoingFrame(), undefined);
    assert.deepEqual(server.takeOutgoing(), []);
    assert.equal(server.bufferedOutgoing, 0);
  });

  test("a queue taken one frame at a time while it refills keeps order", () => {
    const server = new Protocol({ role: "server" });
    // Always one frame ahead of its reader: the queue never empties, so
    // its array is compacted as it goes.
    server.sendBinary(Uint8Array.of(0));
    for (let index = 1; index < 3000; index++) {
      server.sendBinary(Uint8Array.of(index & 0xff));
      const frame = server.takeOutgoingFrame()!;
      assert.equal(frame[2], (index - 1) & 0xff);
    }
    assert.deepEqual(server.takeOutgoing(), [
      Uint8Array.of(0x82, 1, 2999 & 0xff),
    ]);
  });

  test("control and reserved opcodes are not fragments", () => {
    const server = new Protocol({ role: "server" });
    for (const opcode of [Opcode.Ping, Opcode.Close, 0x3 as Opcode]) {
      assert.throws(() => server.sendFragment(opcode, EMPTY, true), TypeError);
    }
    assert.equal(server.bufferedOutgoing, 0);
  });

  test("a pre-encoded frame must be a whole, uncompressed data message", () => {
    const server = new Protocol({ role: "server" });
    const bad = [
      encodeFrame(Opcode.Text, EMPTY, { fin: false }),
      encodeFrame(Opcode.Continuation, EMPTY),
      encodeFrame(Opcode.Ping, EMPTY),
      encodeFrame(Opcode.Binary, EMPTY, { rsv1: true }),
      EMPTY,
    ];
    for (const frame of bad) {
      assert.throws(() => server.sendEncodedFrame(frame), TypeError);
    }
    assert.equal(server.bufferedOutgoing, 0);
  });
});

const EMPTY = new Uint8Array(0);
