/**
 * The conformance cases where a lenient implementation still passes but a
 * strict one differs, built byte by byte (no library code) for either side
 * of a connection:
 *
 * - a valid message, then a frame that breaks a rule, then a ping, all in
 *   one write: the valid message is delivered and the reply to it goes out
 *   before the close frame, and the ping gets no pong;
 * - invalid UTF-8 inside one text frame that arrives in pieces: the
 *   connection fails when the piece holding the bad bytes arrives, not when
 *   the frame is complete.
 *
 * Pure (no runtime APIs), so unit tests in every runtime and the Deno-only
 * TCP tests share it.
 *
 * @module
 */

/** Which end sends the bytes: a client masks its frames, a server not. */
export type Sender = "client" | "server";

/** The masking key of every client frame built here, so bytes repeat. */
const MASK_KEY = [0x1f, 0x8b, 0x52, 0xe6];

const encoder = new TextEncoder();

/** Options of {@linkcode handFrame}. */
export interface HandFrameOptions {
  /** FIN; default true. */
  fin?: boolean;
  /** The three RSV bits as a number, RSV1 = 4, RSV2 = 2, RSV3 = 1. */
  rsv?: number;
}

/**
 * One frame as `sender` puts it on the wire, header and masking by hand.
 *
 * @param sender who sends it (a client masks with a fixed key)
 * @param opcode any 4-bit opcode, reserved ones included
 * @param payload the payload; a string is UTF-8 encoded
 * @param options FIN and RSV bits
 * @returns the frame's bytes
 */
export function handFrame(
  sender: Sender,
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: HandFrameOptions = {},
): Uint8Array {
  const { fin = true, rsv = 0 } = options;
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  const masked = sender === "client";
  const header: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (data.length < 126) header.push(maskBit | data.length);
  else if (data.length < 65536) {
    header.push(maskBit | 126, data.length >> 8, data.length & 0xff);
  } else {
    header.push(maskBit | 127, 0, 0, 0, 0);
    for (let shift = 24; shift >= 0; shift -= 8) {
      header.push((data.length >>> shift) & 0xff);
    }
  }
  if (masked) header.push(...MASK_KEY);
  const frame = new Uint8Array(header.length + data.length);
  frame.set(header);
  for (let index = 0; index < data.length; index++) {
    const key = masked ? MASK_KEY[index & 3] : 0;
    frame[header.length + index] = data[index] ^ key;
  }
  return frame;
}

/** Joins byte arrays. */
export function joinBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** A valid message, then a frame that breaks a rule, in one write. */
export interface MessageThenBreak {
  /** What the case sends, for test names. */
  name: string;
  /** Everything, to be sent in one write. */
  bytes: Uint8Array;
  /** The text messages the receiver delivers before failing, in order. */
  delivered: string[];
  /** The close code the receiver fails the connection with. */
  code: number;
}

/**
 * The cases of a valid message followed by a rule broken, the rest of the
 * write never read: RSV bits with no extension (RSV=1 to 7), each reserved
 * opcode, and a fragmented message followed by a continuation with nothing
 * to continue and a text message ("all in one chop").
 *
 * @param sender who sends the bytes
 * @returns the cases
 */
export function messageThenBreak(sender: Sender): MessageThenBreak[] {
  const frame = (
    opcode: number,
    payload: string,
    options?: HandFrameOptions,
  ) => handFrame(sender, opcode, payload, options);
  const hello = frame(0x1, "Hello, world!");
  const ping = frame(0x9, "");
  const cases: MessageThenBreak[] = [];
  for (let rsv = 1; rsv <= 7; rsv++) {
    cases.push({
      name: `a message, then RSV=${rsv} with no extension, then a ping`,
      bytes: joinBytes(hello, frame(0x1, "Hello, world!", { rsv }), ping),
      delivered: ["Hello, world!"],
      code: 1002,
    });
  }
  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    cases.push({
      name: `a message, then reserved opcode ${opcode}, then a ping`,
      bytes: joinBytes(hello, frame(opcode, "reserved"), ping),
      delivered: ["Hello, world!"],
      code: 1002,
    });
  }
  cases.push({
    name:
      "two fragments, a continuation with nothing to continue, a text message",
    bytes: joinBytes(
      frame(0x1, "fragment1", { fin: false }),
      frame(0x0, "fragment2"),
      frame(0x0, "fragment3", { fin: false }),
      frame(0x1, "fragment4"),
    ),
    delivered: ["fragment1fragment2"],
    code: 1002,
  });
  return cases;
}

/**
 * A text payload whose middle is a 4-byte sequence above U+10FFFF: valid
 * Greek, then `f4 90 80 80`, then "edited". The first invalid byte is the
 * `90` at {@linkcode FIRST_INVALID_BYTE}.
 */
export const TEXT_ABOVE_MAX_CODE_POINT: readonly Uint8Array[] = [
  new Uint8Array([
    0xce,
    0xba,
    0xe1,
    0xbd,
    0xb9,
    0xcf,
    0x83,
    0xce,
    0xbc,
    0xce,
    0xb5,
  ]),
  new Uint8Array([0xf4, 0x90, 0x80, 0x80]),
  new Uint8Array([0x65, 0x64, 0x69, 0x74, 0x65, 0x64]),
];

/** The index in the joined payload of the first byte that cannot be valid. */
export const FIRST_INVALID_BYTE = 12;

/** Bytes cut into the pieces that arrive one after another. */
export interface TextInPieces {
  /** What the case sends, for test names. */
  name: string;
  /** The pieces, each to be sent in its own write. */
  pieces: Uint8Array[];
  /**
   * The piece after which the receiver must fail with 1007; the pieces
   * after it are never sent.
   */
  failsAt: number;
  /** The text messages delivered before the failure. */
  delivered: string[];
}

/** Cuts `bytes` before each offset in `cuts`. */
function cutAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of cuts) {
    pieces.push(bytes.slice(start, cut));
    start = cut;
  }
  pieces.push(bytes.slice(start));
  return pieces;
}

/** Every byte as a piece of its own. */
function bytewise(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (byte) => new Uint8Array([byte]));
}

/**
 * Invalid UTF-8 inside one text frame that arrives in pieces: unfragmented
 * (in three pieces, then one byte at a time), as the first frame of a
 * fragmented message, and as a continuation.
 *
 * @param sender who sends the bytes
 * @returns the cases
 */
export function invalidTextInPieces(sender: Sender): TextInPieces[] {
  const payload = joinBytes(...TEXT_ABOVE_MAX_CODE_POINT);
  const headerLength = sender === "client" ? 6 : 2;
  const whole = handFrame(sender, 0x1, payload);
  const badByte = headerLength + FIRST_INVALID_BYTE;
  const first = TEXT_ABOVE_MAX_CODE_POINT[0].length;
  const second = first + TEXT_ABOVE_MAX_CODE_POINT[1].length;
  const opening = handFrame(sender, 0x1, "κόσμε ", { fin: false });
  const continuation = handFrame(sender, 0x0, payload);
  const firstFragment = handFrame(sender, 0x1, payload, { fin: false });
  return [
    {
      name: "one text frame in three pieces",
      pieces: cutAt(whole, [headerLength + first, headerLength + second]),
      failsAt: 1,
      delivered: [],
    },
    {
      name: "one text frame, one byte at a time",
      pieces: bytewise(whole),
      failsAt: badByte,
      delivered: [],
    },
    {
      name: "the first frame of a fragmented message, one byte at a time",
      pieces: bytewise(firstFragment),
      failsAt: badByte,
      delivered: [],
    },
    {
      name: "a continuation frame in three pieces",
      pieces: [
        joinBytes(opening, continuation.slice(0, headerLength + first)),
        continuation.slice(headerLength + first, headerLength + second),
        continuation.slice(headerLength + second),
      ],
      failsAt: 1,
      delivered: [],
    },
    {
      name: "after a valid message, one text frame in three pieces",
      pieces: [
        joinBytes(
          handFrame(sender, 0x1, "Hello"),
          whole.slice(0, headerLength + first),
        ),
        whole.slice(headerLength + first, headerLength + second),
        whole.slice(headerLength + second),
      ],
      failsAt: 1,
      delivered: ["Hello"],
    },
  ];
}
