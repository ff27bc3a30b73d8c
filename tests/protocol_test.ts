import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeClosePayload,
  isValidCloseCode,
  Protocol,
  type ProtocolEvent,
  type ProtocolOptions,
  ReadyState,
} from "../protocol.ts";
import { encodeFrame, FrameDecoder, Opcode } from "../frame.ts";
import { InvalidStateError } from "../errors.ts";

const encoder = new TextEncoder();

/** A masked client frame, as a browser would send it. */
function client(
  opcode: Opcode,
  payload: Uint8Array | string = new Uint8Array(0),
  fin = true,
): Uint8Array {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  return encodeFrame(opcode, bytes, { fin, mask: true });
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Feeds `bytes` to a fresh server protocol, whole and byte by byte. */
function serverReceives(
  bytes: Uint8Array,
  options: Omit<ProtocolOptions, "role"> = {},
): {
  events: ProtocolEvent[];
  protocol: Protocol;
  sent: { opcode: number; payload: Uint8Array }[];
} {
  let result: ReturnType<typeof serverReceives> | undefined;
  for (const pieceSize of [bytes.length || 1, 1]) {
    const protocol = new Protocol({ role: "server", ...options });
    const events: ProtocolEvent[] = [];
    for (let start = 0; start < bytes.length; start += pieceSize) {
      events.push(...protocol.receive(bytes.slice(start, start + pieceSize)));
    }
    const sent = decodeSent(protocol, false);
    const current = { events, protocol, sent };
    if (result) {
      assert.deepEqual(
        summarize(current.events),
        summarize(result.events),
        "splitting the input changed the outcome",
      );
    }
    result = current;
  }
  return result!;
}

function summarize(events: ProtocolEvent[]): unknown[] {
  return events.map((event) =>
    event.type === "error"
      ? { type: "error", rule: event.error.rule, code: event.error.closeCode }
      : event
  );
}

/** Decodes what the protocol queued for sending. */
function decodeSent(
  protocol: Protocol,
  masked: boolean,
): { opcode: number; payload: Uint8Array }[] {
  const decoder = new FrameDecoder({ expectMasked: masked });
  const frames = [];
  for (const bytes of protocol.takeOutgoing()) {
    decoder.push(bytes);
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      frames.push({ opcode: frame.opcode, payload: frame.payload.slice() });
    }
  }
  return frames;
}

function closeCodeOf(payload: Uint8Array): number {
  return (payload[0] << 8) | payload[1];
}

function assertFailed(
  result: ReturnType<typeof serverReceives>,
  rule: string,
  code: number,
): void {
  const last = result.events.at(-1);
  assert.ok(last && last.type === "error", "expected an error event last");
  assert.equal(last.error.rule, rule);
  assert.equal(last.error.closeCode, code);
  assert.equal(result.protocol.readyState, ReadyState.CLOSED);
  const close = result.sent.at(-1);
  assert.ok(close && close.opcode === Opcode.Close, "a close frame was queued");
  assert.equal(closeCodeOf(close.payload), code);
}

describe("messages", () => {
  test("text and binary messages, zero and non-zero length", () => {
    const { events } = serverReceives(concat(
      client(Opcode.Text, "héllo €𝄞"),
      client(Opcode.Text, ""),
      client(Opcode.Binary, new Uint8Array([0, 1, 255])),
      client(Opcode.Binary),
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
      client(Opcode.Text, new Uint8Array([0xef, 0xbb, 0xbf, 0x41])),
    );
    assert.deepEqual(events, [{ type: "text", data: "\ufeffA" }]);
  });

  test("binary data is an owned copy, not a view of the input", () => {
    const protocol = new Protocol({ role: "server" });
    const chunk = client(Opcode.Binary, new Uint8Array([1, 2, 3]));
    const [event] = protocol.receive(chunk);
    assert.ok(event.type === "binary");
    chunk.fill(0);
    assert.deepEqual(event.data, new Uint8Array([1, 2, 3]));
  });

  test("fragmented messages with pings between the fragments", () => {
    const { events, sent } = serverReceives(concat(
      client(Opcode.Text, "Hel", false),
      client(Opcode.Ping, "a"),
      client(Opcode.Continuation, "", false),
      client(Opcode.Pong, "b"),
      client(Opcode.Continuation, "lo"),
      client(Opcode.Binary, new Uint8Array([1]), false),
      client(Opcode.Continuation, new Uint8Array([2, 3])),
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
      parts.push(client(
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
      serverReceives(client(Opcode.Continuation, "x")),
      "UnexpectedContinuation",
      1002,
    );
  });

  test("a new data frame while a message is open: 1002", () => {
    assertFailed(
      serverReceives(concat(
        client(Opcode.Text, "a", false),
        client(Opcode.Binary, "b"),
      )),
      "ExpectedContinuation",
      1002,
    );
  });

  test("nothing after a protocol error is delivered", () => {
    const { events } = serverReceives(concat(
      client(Opcode.Text, "before"),
      client(Opcode.Continuation, "x"),
      client(Opcode.Text, "after"),
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
        serverReceives(client(Opcode.Text, new Uint8Array(bytes))),
        "InvalidUtf8",
        1007,
      );
    });
    test(`fragmented, ${name}: 1007`, () => {
      assertFailed(
        serverReceives(concat(
          client(Opcode.Text, new Uint8Array(bytes.slice(0, 1)), false),
          client(Opcode.Continuation, new Uint8Array(bytes.slice(1))),
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
      client(Opcode.Text, new Uint8Array([euro[0]]), false),
      client(Opcode.Continuation, new Uint8Array([euro[1]]), false),
      client(
        Opcode.Continuation,
        new Uint8Array([euro[2], clef[0], clef[1]]),
        false,
      ),
      client(Opcode.Continuation, new Uint8Array([clef[2], clef[3]])),
    ));
    assert.deepEqual(events, [{ type: "text", data: "€𝄞" }]);
  });

  test("fails fast inside a fragment, before the message ends", () => {
    const protocol = new Protocol({ role: "server" });
    const events = protocol.receive(concat(
      client(Opcode.Text, "valid start", false),
      client(Opcode.Continuation, new Uint8Array([0xc0, 0x80]), false),
    ));
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "error");
    assert.equal(events[0].error.closeCode, 1007);
  });
});

describe("limits", () => {
  test("a message over the limit fails with 1009 before its payload arrives", () => {
    const protocol = new Protocol({ role: "server", maxMessageSize: 1000 });
    assert.deepEqual(
      protocol.receive(client(Opcode.Text, "x".repeat(600), false)),
      [],
    );
    // Header only of a 401-byte continuation: 1001 > 1000.
    const next = client(Opcode.Continuation, "y".repeat(401));
    const events = protocol.receive(next.slice(0, 8));
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "error");
    assert.equal(events[0].error.rule, "MessageTooLarge");
    assert.equal(events[0].error.closeCode, 1009);
  });

  test("exactly the message limit is accepted", () => {
    const { events } = serverReceives(
      concat(
        client(Opcode.Binary, new Uint8Array(600), false),
        client(Opcode.Continuation, new Uint8Array(400)),
      ),
      { maxMessageSize: 1000 },
    );
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "binary" && events[0].data.length === 1000);
  });

  test("a frame over the frame limit: 1009", () => {
    assertFailed(
      serverReceives(client(Opcode.Binary, new Uint8Array(101)), {
        maxFrameSize: 100,
      }),
      "FrameTooLarge",
      1009,
    );
  });

  test("too many fragments, even empty ones: 1009", () => {
    const parts = [client(Opcode.Text, "", false)];
    for (let i = 0; i < 10; i++) {
      parts.push(client(Opcode.Continuation, "", false));
    }
    assertFailed(
      serverReceives(concat(...parts), { maxFragments: 10 }),
      "TooManyFragments",
      1009,
    );
    const fine = serverReceives(
      concat(...parts.slice(0, 9), client(Opcode.Continuation, "")),
      {
        maxFragments: 10,
      },
    );
    assert.deepEqual(fine.events, [{ type: "text", data: "" }]);
  });

  test("control frames between fragments do not count against the limit", () => {
    const { events } = serverReceives(
      concat(
        client(Opcode.Binary, new Uint8Array(100), false),
        client(Opcode.Ping, new Uint8Array(125)),
        client(Opcode.Continuation, new Uint8Array(0)),
      ),
      { maxMessageSize: 100 },
    );
    assert.deepEqual(events.map((e) => e.type), ["ping", "binary"]);
  });
});

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
    test(`peer closes with ${code}: echoed, state CLOSED`, () => {
      const { events, sent, protocol } = serverReceives(
        client(Opcode.Close, encodeClosePayload(code, "bye")),
      );
      assert.deepEqual(events, [{ type: "close", code, reason: "bye" }]);
      assert.equal(sent.length, 1);
      assert.equal(sent[0].opcode, Opcode.Close);
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
        serverReceives(client(Opcode.Close, payload)),
        "InvalidCloseCode",
        1002,
      );
    });
  }

  test("an empty close is reported as 1005 and echoed empty", () => {
    const { events, sent } = serverReceives(client(Opcode.Close));
    assert.deepEqual(events, [{ type: "close", code: 1005, reason: "" }]);
    assert.deepEqual(sent, [{
      opcode: Opcode.Close,
      payload: new Uint8Array(0),
    }]);
  });

  test("a one-byte close payload: 1002", () => {
    assertFailed(
      serverReceives(client(Opcode.Close, new Uint8Array([3]))),
      "CloseFrameTooShort",
      1002,
    );
  });

  test("a close reason that is not UTF-8: 1007", () => {
    assertFailed(
      serverReceives(
        client(Opcode.Close, new Uint8Array([0x03, 0xe8, 0xc0, 0x80])),
      ),
      "InvalidUtf8",
      1007,
    );
  });

  test("frames after the peer's close are ignored", () => {
    const { events } = serverReceives(concat(
      client(Opcode.Close, encodeClosePayload(1000)),
      client(Opcode.Text, "ignored"),
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
      client(Opcode.Text, "in flight"),
      client(Opcode.Ping, "p"),
      client(Opcode.Close, encodeClosePayload(4000)),
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
        client(Opcode.Ping, "between"),
        client(
          Opcode.Continuation,
          new Uint8Array([0xcd, 0xc9, 0xc9, 0x07, 0x00]),
        ),
        rsv1Frame(Opcode.Binary, new Uint8Array([1, 2, 3])),
        client(Opcode.Text, "plain"),
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
    const frame = client(Opcode.Text, "x");
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
    assert.throws(
      () =>
        server.sendFragment(Opcode.Continuation, new Uint8Array(1), true, true),
      TypeError,
    );
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

describe("text decoding edge cases", () => {
  test("a real U+FFFD sent by the peer is kept, an invalid byte is refused", () => {
    const { events } = serverReceives(client(Opcode.Text, "a\ufffdb"));
    assert.deepEqual(events, [{ type: "text", data: "a\ufffdb" }]);
    assertFailed(
      serverReceives(
        client(Opcode.Text, new Uint8Array([0x61, 0xef, 0xbf, 0xbd, 0xff])),
      ),
      "InvalidUtf8",
      1007,
    );
  });

  test("a payload gathered across chunks is handed out without another copy", () => {
    const protocol = new Protocol({ role: "server" });
    const frame = client(Opcode.Binary, new Uint8Array(1000).fill(3));
    assert.deepEqual(protocol.receive(frame.slice(0, 500)), []);
    const [event] = protocol.receive(frame.slice(500));
    assert.ok(event.type === "binary");
    assert.equal(event.data.length, 1000);
    assert.equal(event.data.buffer.byteLength, 1000);
    assert.ok(event.data.every((byte) => byte === 3));
  });
});
