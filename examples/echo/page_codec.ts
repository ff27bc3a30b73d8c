/**
 * The frame arithmetic behind the echo server's teaching page
 * (`static/index.html`). A browser's `WebSocket` never shows the frames it
 * sends or receives, so the page rebuilds them with this project's own
 * `frame.ts`: {@linkcode clientFrame} masks with a fresh random key (as every
 * browser must), {@linkcode serverFrame} does not mask (as every server must
 * not), and {@linkcode describeFrame} decodes the bytes again with
 * `FrameDecoder` and lays out each header field.
 *
 * When the connection agreed permessage-deflate (RFC 7692),
 * {@linkcode clientMessageFrame} and {@linkcode serverMessageFrame} rebuild a
 * data message the way each side really sends it: the browser compresses
 * every text and binary message (Chromium does, measured through a proxy that
 * reads RSV1 in `tests/interop/deflate_peers_deno_test.ts`), the echo server
 * those of at least {@linkcode ECHO_SERVER_COMPRESSION_THRESHOLD} bytes.
 * Compression runs `deflate/payload.ts` here, on the platform's
 * `CompressionStream("deflate-raw")`, each message on its own, so the bytes
 * are this page's own: the browser and the server compress with context
 * takeover and write fewer bytes of the same shape.
 *
 * `deno task bundle:page` bundles this module into `static/codec.js` for the
 * page. It uses only Web-standard APIs.
 *
 * @module
 */

import { encodeFrame, frameHeaderLength } from "../../frame/encoder.ts";
import { FrameDecoder } from "../../frame/decoder.ts";
import { Opcode, RSV1, RSV2, RSV3 } from "../../frame/types.ts";

import { deflateMessage, inflateMessage } from "../../deflate/payload.ts";
import { PERMESSAGE_DEFLATE } from "../../deflate/negotiation.ts";
import { DEFAULTS } from "../../defaults.ts";

export { Opcode } from "../../frame/types.ts";
export { DEFLATE_TAIL } from "../../deflate/payload.ts";

/** The smallest message, in bytes, that the echo server sends compressed:
 * `server.ts` compresses with context takeover from
 * `DEFAULTS.deflate.takeoverThreshold` (32) on. */
export const ECHO_SERVER_COMPRESSION_THRESHOLD: number =
  DEFAULTS.deflate.takeoverThreshold;

/** How many payload bytes {@linkcode describeFrame} keeps for display by
 * default; longer payloads are cut there (the page says how many bytes it
 * left out). Default 64. */
export const DEFAULT_PREVIEW_BYTES = 64;

/** How a frame's payload length is written on the wire (RFC 6455 5.2). */
export type LengthEncoding = "7-bit" | "16-bit" | "64-bit";

/** Every field of one frame, ready to show. */
export interface FrameView {
  /** The frame's size on the wire: header plus payload. */
  readonly frameLength: number;
  /** The header bytes (2 to 14) exactly as on the wire. */
  readonly header: Uint8Array;
  /** FIN: the last frame of its message. */
  readonly fin: boolean;
  /** RSV1 (used by permessage-deflate). */
  readonly rsv1: boolean;
  /** RSV2, reserved. */
  readonly rsv2: boolean;
  /** RSV3, reserved. */
  readonly rsv3: boolean;
  /** The opcode number (0x0-0xF). */
  readonly opcode: number;
  /** The opcode's name, like "text" or "close". */
  readonly opcodeName: string;
  /** MASK: whether a masking key follows the length. */
  readonly masked: boolean;
  /** The 7-bit length field of the second byte: the length itself, or 126
   * or 127 announcing a 16-bit or 64-bit length after it. */
  readonly lengthField: number;
  /** Which of the three length encodings the frame uses. */
  readonly lengthEncoding: LengthEncoding;
  /** The extended length bytes (none, 2 or 8). */
  readonly extendedLength: Uint8Array;
  /** The payload length in bytes. */
  readonly payloadLength: number;
  /** The masking key, or null for an unmasked frame. */
  readonly maskingKey: Uint8Array | null;
  /** The first payload bytes as they cross the wire (masked when MASK=1). */
  readonly wirePayload: Uint8Array;
  /** The first payload bytes after unmasking, as `FrameDecoder` returns them. */
  readonly payload: Uint8Array;
  /** How many payload bytes `wirePayload` and `payload` left out. */
  readonly omittedBytes: number;
}

/** The name of each opcode of RFC 6455 section 5.2, by number. */
export function opcodeName(opcode: number): string {
  switch (opcode) {
    case Opcode.Continuation:
      return "continuation";
    case Opcode.Text:
      return "text";
    case Opcode.Binary:
      return "binary";
    case Opcode.Close:
      return "close";
    case Opcode.Ping:
      return "ping";
    case Opcode.Pong:
      return "pong";
    default:
      return opcode < 0x8 ? "reserved (data)" : "reserved (control)";
  }
}

/**
 * The frame a browser puts on the wire for one message: FIN set, masked with
 * a fresh random key (a client must mask every frame, RFC 6455 5.3).
 *
 * @param opcode the frame's opcode
 * @param payload the message bytes
 * @returns the frame's bytes
 */
export function clientFrame(opcode: Opcode, payload: Uint8Array): Uint8Array {
  return encodeFrame(opcode, payload, { mask: true });
}

/**
 * The frame a server puts on the wire for one message: FIN set, not masked
 * (a server must never mask, RFC 6455 5.1).
 *
 * @param opcode the frame's opcode
 * @param payload the message bytes
 * @returns the frame's bytes
 */
export function serverFrame(opcode: Opcode, payload: Uint8Array): Uint8Array {
  return encodeFrame(opcode, payload, { mask: false });
}

/**
 * The payload of a close frame (RFC 6455 5.5.1): the code as two bytes, big
 * endian, then the reason in UTF-8. No code gives an empty payload.
 *
 * @param code the close code, or undefined for none
 * @param reason the reason (only sent with a code)
 * @returns the payload bytes
 */
export function closePayload(
  code: number | undefined,
  reason = "",
): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const reasonBytes = new TextEncoder().encode(reason);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

function lengthEncodingOf(lengthField: number): LengthEncoding {
  if (lengthField === 127) return "64-bit";
  if (lengthField === 126) return "16-bit";
  return "7-bit";
}

/**
 * Decodes one complete frame with `FrameDecoder` and lays out its fields.
 * The header layout (length encoding, masking key, masked bytes) is read
 * from `wire` at the offsets RFC 6455 5.2 gives; the flags, opcode and
 * unmasked payload come from the decoder.
 *
 * @param wire exactly one frame (not modified)
 * @param previewBytes how many payload bytes to keep; default
 * {@linkcode DEFAULT_PREVIEW_BYTES}
 * @returns the fields
 * @throws {WebSocketError} when `wire` is not a valid frame (a reserved
 * opcode, a control frame too long or fragmented); set RSV bits are allowed
 * @throws {RangeError} when `wire` is not exactly one complete frame
 */
export function describeFrame(
  wire: Uint8Array,
  previewBytes: number = DEFAULT_PREVIEW_BYTES,
): FrameView {
  // Any RSV bit is shown, not refused: an extension such as
  // permessage-deflate (RSV1) may own it.
  const decoder = new FrameDecoder({
    expectMasked: null,
    allowedReservedBits: RSV1 | RSV2 | RSV3,
  });
  // The decoder unmasks in place: give it a copy.
  decoder.push(wire.slice());
  const frame = decoder.next();
  if (frame === undefined) {
    throw new RangeError("describeFrame: the bytes hold no complete frame");
  }
  if (decoder.next() !== undefined) {
    throw new RangeError("describeFrame: the bytes hold more than one frame");
  }
  const payloadLength = frame.payload.length;
  const headerLength = frameHeaderLength(payloadLength, frame.masked);
  if (headerLength + payloadLength !== wire.length) {
    throw new RangeError("describeFrame: bytes left over after the frame");
  }
  const lengthField = wire[1] & 0x7f;
  const keyStart = frame.masked ? headerLength - 4 : headerLength;
  const shown = Math.min(payloadLength, previewBytes);
  return {
    frameLength: wire.length,
    header: wire.slice(0, headerLength),
    fin: frame.fin,
    rsv1: frame.rsv1,
    rsv2: frame.rsv2,
    rsv3: frame.rsv3,
    opcode: frame.opcode,
    opcodeName: opcodeName(frame.opcode),
    masked: frame.masked,
    lengthField,
    lengthEncoding: lengthEncodingOf(lengthField),
    extendedLength: wire.slice(2, keyStart),
    payloadLength,
    maskingKey: frame.masked ? wire.slice(keyStart, headerLength) : null,
    wirePayload: wire.slice(headerLength, headerLength + shown),
    payload: frame.payload.slice(0, shown),
    omittedBytes: payloadLength - shown,
  };
}

/**
 * Bytes as lowercase hex pairs separated by spaces, like `81 85 37 fa`.
 *
 * @param bytes the bytes
 * @returns the hex text
 */
export function toHex(bytes: Uint8Array): string {
  const pairs: string[] = [];
  for (const byte of bytes) pairs.push(byte.toString(16).padStart(2, "0"));
  return pairs.join(" ");
}

/**
 * One byte as eight bits, like `1000 0001`.
 *
 * @param byte the byte
 * @returns the bits, in two groups of four
 */
export function toBits(byte: number): string {
  const bits = byte.toString(2).padStart(8, "0");
  return `${bits.slice(0, 4)} ${bits.slice(4)}`;
}

/**
 * Whether a `WebSocket.extensions` value (the server's
 * `Sec-WebSocket-Extensions` answer) lists permessage-deflate.
 *
 * @param extensions like `"permessage-deflate; server_no_context_takeover"`
 * @returns true when one of the comma-separated extensions is
 * permessage-deflate (its parameters are not looked at)
 */
export function agreedPerMessageDeflate(extensions: string): boolean {
  for (const item of extensions.split(",")) {
    const semicolon = item.indexOf(";");
    const name = semicolon === -1 ? item : item.slice(0, semicolon);
    if (name.trim().toLowerCase() === PERMESSAGE_DEFLATE) return true;
  }
  return false;
}

/** The opcodes of a message (permessage-deflate compresses only these). */
export type DataOpcode = typeof Opcode.Text | typeof Opcode.Binary;

/**
 * Whether a data message went compressed, and why not when it did not:
 *
 * - `"compressed"`: RSV1 set, the payload is raw DEFLATE data;
 * - `"not-agreed"`: the connection has no permessage-deflate;
 * - `"below-threshold"`: the server sends messages under its threshold as
 *   they are.
 */
export type Compression =
  | "compressed"
  | "not-agreed"
  | "below-threshold";

/** One data message rebuilt as a single frame. */
export interface RebuiltMessage {
  /** The frame's bytes. */
  readonly wire: Uint8Array;
  /** Whether the payload is compressed (RSV1 set), or why not. */
  readonly compression: Compression;
  /** The message read back from the payload: inflated with `deflate.ts`
   * when compressed, the payload itself when not. */
  readonly message: Uint8Array;
}

function plainMessage(
  opcode: DataOpcode,
  message: Uint8Array,
  compression: Compression,
  mask: boolean,
): RebuiltMessage {
  return { wire: encodeFrame(opcode, message, { mask }), compression, message };
}

function compressedMessage(
  opcode: DataOpcode,
  deflated: Uint8Array,
  messageLength: number,
  mask: boolean,
): RebuiltMessage {
  const wire = encodeFrame(opcode, deflated, { mask, rsv1: true });
  const message = inflateMessage(deflated, messageLength);
  return { wire, compression: "compressed", message };
}

/**
 * The frame a browser sends for one message: masked, and when
 * permessage-deflate was agreed, compressed with RSV1 set whatever the
 * message (Chromium compresses every data message, even an empty one or
 * random bytes that grow).
 *
 * @param opcode text or binary
 * @param message the message bytes (UTF-8 for text); not modified
 * @param deflate whether the connection agreed permessage-deflate
 * @returns the frame, and the message inflated back from it
 */
export async function clientMessageFrame(
  opcode: DataOpcode,
  message: Uint8Array,
  deflate: boolean,
): Promise<RebuiltMessage> {
  if (!deflate) return plainMessage(opcode, message, "not-agreed", true);
  const deflated = await deflateMessage(message);
  return compressedMessage(opcode, deflated, message.length, true);
}

/**
 * The frame the echo server sends for one message: not masked, and when
 * permessage-deflate was agreed, compressed with RSV1 set if the message has
 * at least `threshold` bytes (the rule of `Protocol.sendText`).
 *
 * @param opcode text or binary
 * @param message the message bytes (UTF-8 for text); not modified
 * @param deflate whether the connection agreed permessage-deflate
 * @param threshold the server's smallest compressed message; default
 * {@linkcode ECHO_SERVER_COMPRESSION_THRESHOLD}
 * @returns the frame, and the message inflated back from it
 */
export async function serverMessageFrame(
  opcode: DataOpcode,
  message: Uint8Array,
  deflate: boolean,
  threshold: number = ECHO_SERVER_COMPRESSION_THRESHOLD,
): Promise<RebuiltMessage> {
  if (!deflate) return plainMessage(opcode, message, "not-agreed", false);
  if (message.length < threshold) {
    return plainMessage(opcode, message, "below-threshold", false);
  }
  const deflated = await deflateMessage(message);
  return compressedMessage(opcode, deflated, message.length, false);
}
