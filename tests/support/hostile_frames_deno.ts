// A catalog of hostile frames, as a client sends them (for the server tests)
// or as a server sends them (for the client tests): each with the close code
// RFC 6455 (and RFC 7692 for compressed messages) requires the receiver to
// fail the connection with. The bytes are built by hand or with
// encodeFrame; compressed payloads come from the platform's
// CompressionStream, not from the code under test. Deno only (it builds on
// raw_ws_client_deno.ts).
import { encodeFrame } from "../../frame/encoder.ts";
import { Opcode } from "../../frame/types.ts";
import {
  clientFrame,
  closePayload,
  concat,
  encoder,
} from "./raw_ws_client_deno.ts";
import { handFrame, type Sender } from "./strict_cases.ts";

export type { Sender } from "./strict_cases.ts";

/** A frame as `sender` sends it: a client masks it (with a fixed key), a
 * server does not. */
export function frameFrom(
  sender: Sender,
  opcode: number,
  payload: Uint8Array | string,
  fin = true,
): Uint8Array {
  return sender === "client"
    ? clientFrame(opcode, payload, fin)
    : handFrame("server", opcode, payload, { fin });
}

/** A byte array from numbers. */
export const bytes = (...values: number[]): Uint8Array =>
  new Uint8Array(values);

/** `frame` with its first byte or'ed with `bits` (0x40 is RSV1). */
export function withBits(frame: Uint8Array, bits: number): Uint8Array {
  const copy = frame.slice();
  copy[0] |= bits;
  return copy;
}

/** The header of a frame announcing a 64-bit payload length (given as two
 * 32-bit halves), masked as `sender` masks; no payload follows. */
export function header64(
  opcode: number,
  high: number,
  low: number,
  sender: Sender = "client",
): Uint8Array {
  const masked = sender === "client";
  const header = new Uint8Array(masked ? 14 : 10);
  header[0] = 0x80 | opcode;
  header[1] = (masked ? 0x80 : 0) | 127;
  const view = new DataView(header.buffer);
  view.setUint32(2, high);
  view.setUint32(6, low);
  if (masked) header.set([1, 2, 3, 4], 10); // masking key
  return header;
}

/** A hostile input: its name, the bytes sent after the 101, and the close
 * code the receiver must fail the connection with. */
export type FailingInput = [name: string, input: Uint8Array, code: number];

/** A final stored DEFLATE block holding "hello": a compressed message,
 * built by hand. */
const DEFLATED_HELLO = bytes(
  0x01,
  0x05,
  0x00,
  0xfa,
  0xff,
  0x68,
  0x65,
  0x6c,
  0x6c,
  0x6f,
);

/**
 * Frames that break RFC 6455 as `sender` sends them, for a receiver with
 * `maxMessageSize` that did not agree any extension.
 *
 * @param maxMessageSize the receiver's limit
 * @param sender "client" (masked frames, to test a server) or "server"
 */
export function failingInput(
  maxMessageSize: number,
  sender: Sender = "client",
): FailingInput[] {
  const MAX_MESSAGE_SIZE = maxMessageSize;
  const frame = (opcode: number, payload: Uint8Array | string, fin = true) =>
    frameFrom(sender, opcode, payload, fin);
  /** A first fragment and a continuation, neither final. */
  const twoFragments = (first: Uint8Array, second: Uint8Array) =>
    concat(
      frame(Opcode.Text, first, false),
      frame(Opcode.Continuation, second, false),
    );
  return [
    sender === "client"
      ? [
        "an unmasked client frame",
        encodeFrame(Opcode.Text, encoder.encode("hi"), { mask: false }),
        1002,
      ]
      : ["a masked server frame", clientFrame(Opcode.Text, "hi"), 1002],
    ...[0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf].map((
      opcode,
    ): FailingInput => [
      `reserved opcode 0x${opcode.toString(16)}`,
      frame(opcode, "x"),
      1002,
    ]),
    ...[["RSV1", 0x40], ["RSV2", 0x20], ["RSV3", 0x10]].map((
      [name, bits],
    ): FailingInput => [
      `${name} set with no extension`,
      withBits(frame(Opcode.Text, "x"), bits as number),
      1002,
    ]),
    [
      "a compressed message with no extension agreed",
      withBits(frame(Opcode.Text, DEFLATED_HELLO), 0x40),
      1002,
    ],
    ["a fragmented ping", frame(Opcode.Ping, "x", false), 1002],
    [
      "a fragmented close",
      frame(Opcode.Close, closePayload(1000), false),
      1002,
    ],
    ["a ping of 126 bytes", frame(Opcode.Ping, new Uint8Array(126)), 1002],
    [
      "a close frame of 126 bytes",
      frame(Opcode.Close, closePayload(1000, "r".repeat(124))),
      1002,
    ],
    [
      "a continuation with no message to continue",
      frame(Opcode.Continuation, "x"),
      1002,
    ],
    [
      "a new message inside a fragmented one",
      concat(frame(Opcode.Text, "first ", false), frame(Opcode.Text, "second")),
      1002,
    ],
    ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map((
      code,
    ): FailingInput => [
      `close code ${code}`,
      frame(Opcode.Close, closePayload(code)),
      1002,
    ]),
    ["a one-byte close payload", frame(Opcode.Close, bytes(0x03)), 1002],
    [
      "a 64-bit length with the top bit set",
      header64(Opcode.Binary, 0x8000_0000, 5, sender),
      1002,
    ],
    [
      "invalid UTF-8 in a text message",
      frame(Opcode.Text, bytes(0x68, 0x69, 0xff)),
      1007,
    ],
    [
      "a UTF-16 surrogate in a text message",
      frame(Opcode.Text, bytes(0xed, 0xa0, 0x80)),
      1007,
    ],
    [
      "a text message ending inside a character",
      frame(Opcode.Text, bytes(0x61, 0xe2, 0x82)),
      1007,
    ],
    // Each first fragment ends in a lead byte that is valid so far; the
    // continuation's first byte cannot continue it. No final fragment follows.
    [
      "a surrogate split across fragments",
      twoFragments(bytes(0x61, 0xed), bytes(0xa0, 0x80)),
      1007,
    ],
    [
      "a code point above U+10FFFF split across fragments",
      twoFragments(bytes(0xf4), bytes(0x90, 0x80, 0x80)),
      1007,
    ],
    [
      "an overlong form split across fragments",
      twoFragments(bytes(0xe0), bytes(0x80, 0x80)),
      1007,
    ],
    [
      "a truncated character followed by ASCII in the next fragment",
      twoFragments(bytes(0xe2, 0x82), bytes(0x41)),
      1007,
    ],
    [
      "a fragmented text message ending inside a character",
      concat(
        frame(Opcode.Text, "ok ", false),
        frame(Opcode.Continuation, bytes(0xf0, 0x9f, 0x98)),
      ),
      1007,
    ],
    [
      "invalid UTF-8 in a close reason",
      frame(Opcode.Close, closePayload(1000, bytes(0x6f, 0xc0, 0xaf))),
      1007,
    ],
    [
      "a 4 GiB frame (only its header is sent)",
      header64(Opcode.Binary, 1, 0, sender),
      1009,
    ],
    [
      "a frame of maxMessageSize + 1 bytes (only its header is sent)",
      header64(Opcode.Binary, 0, MAX_MESSAGE_SIZE + 1, sender),
      1009,
    ],
    [
      "fragments adding up past maxMessageSize (the second's header only)",
      concat(
        frame(Opcode.Binary, new Uint8Array(MAX_MESSAGE_SIZE / 2 + 1), false),
        frame(Opcode.Continuation, new Uint8Array(MAX_MESSAGE_SIZE / 2))
          .subarray(0, sender === "client" ? 8 : 4),
      ),
      1009,
    ],
  ];
}

/** One message in `maxFragments + 1` empty frames, none final, as `sender`
 * sends them. */
export function fragmentFlood(
  maxFragments: number,
  sender: Sender = "client",
): Uint8Array {
  const MAX_FRAGMENTS = maxFragments;
  const empty = frameFrom(
    sender,
    Opcode.Continuation,
    new Uint8Array(0),
    false,
  );
  const flood = new Uint8Array(empty.length * (MAX_FRAGMENTS + 1));
  flood.set(frameFrom(sender, Opcode.Binary, new Uint8Array(0), false));
  for (let i = 1; i <= MAX_FRAGMENTS; i++) flood.set(empty, i * empty.length);
  return flood;
}

/** `data` compressed as permessage-deflate sends it: raw DEFLATE. */
export async function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A frame with RSV1 set (a compressed message's first frame), as `sender`
 * sends it. */
export function compressedFrame(
  opcode: number,
  payload: Uint8Array,
  fin = true,
  sender: Sender = "client",
): Uint8Array {
  return withBits(frameFrom(sender, opcode, payload, fin), 0x40);
}

/** Frames that break RFC 7692 as `sender` sends them, for a receiver that
 * agreed permessage-deflate and has `maxMessageSize`. */
export async function failingCompressedInput(
  maxMessageSize: number,
  sender: Sender = "client",
): Promise<FailingInput[]> {
  const compressed = (opcode: number, payload: Uint8Array, fin = true) =>
    compressedFrame(opcode, payload, fin, sender);
  const hello = await deflateRaw(encoder.encode("hello hello hello"));
  // Zeros compress about 1000 to 1: a few KiB that inflate far past the limit.
  const bomb = await deflateRaw(new Uint8Array(maxMessageSize * 16));
  return [
    [
      "a compressed message inflating past maxMessageSize",
      compressed(Opcode.Binary, bomb),
      1009,
    ],
    [
      "a compressed message that is not DEFLATE data",
      compressed(Opcode.Binary, bytes(0xff, 0xff, 0xff, 0xff, 0xff)),
      1007,
    ],
    [
      "a compressed text message inflating to invalid UTF-8",
      compressed(Opcode.Text, await deflateRaw(bytes(0x61, 0xff, 0x62))),
      1007,
    ],
    [
      "RSV1 on a continuation frame",
      concat(
        compressed(Opcode.Text, hello.subarray(0, 4), false),
        compressed(Opcode.Continuation, hello.subarray(4)),
      ),
      1002,
    ],
    ["RSV1 on a ping", compressed(Opcode.Ping, bytes()), 1002],
    [
      "RSV2 with permessage-deflate agreed",
      withBits(frameFrom(sender, Opcode.Text, "x"), 0x20),
      1002,
    ],
  ];
}
