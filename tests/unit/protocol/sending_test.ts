// What the Protocol state machine sends: masking by role, fragments,
// control payload limits, and pre-encoded frames for fan-out.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { InvalidStateError } from "../../../errors.ts";
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
