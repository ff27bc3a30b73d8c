/**
 * The frame encoder (RFC 6455 section 5): a frame's header and payload,
 * masked with a fresh key on the client side. The decoder is `decoder.ts`;
 * the `./frame` entry exports both.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               |Masking-key, if MASK set to 1  |
 * +-------------------------------+-------------------------------+
 * | Masking-key (continued)       |          Payload Data         |
 * +-------------------------------- - - - - - - - - - - - - - - - +
 * ```
 *
 * @module
 */
import { applyMask, copyMasked, resolveMaskKey } from "./mask.ts";
import { Opcode } from "./types.ts";

export { FrameDecoder, type FrameDecoderOptions } from "./decoder.ts";

/** Options of {@linkcode encodeFrame}. */
export interface EncodeOptions {
  /** Whether this is the final frame of its message. Default true. */
  fin?: boolean;
  /** Set RSV1 (permessage-deflate). Default false. */
  rsv1?: boolean;
  /**
   * Mask the payload: `true` for a fresh random key (client frames must be
   * masked), a 4-byte key to use that key, `false` for no mask (server
   * frames). Default false.
   */
  mask?: boolean | Uint8Array;
  /**
   * Where the frame's bytes come from: called once with the frame's length,
   * it must return that many bytes nothing else uses (the frame overwrites
   * every one of them). Default a new `Uint8Array`. (`Protocol` passes
   * its `frameAllocator`'s; over this package's own transports the socket
   * cuts small frames from shared slabs, see `frame/pool.ts`.)
   */
  allocate?: (length: number) => Uint8Array;
}

function newBytes(length: number): Uint8Array {
  return new Uint8Array(length);
}

/** Whether `opcode` is a control opcode (close, ping, pong). */
export function isControlOpcode(opcode: number): boolean {
  return opcode >= 0x8;
}

/**
 * The size of a frame header for a payload of `payloadLength` bytes, using the
 * minimal length encoding section 5.2 requires.
 *
 * @param payloadLength the payload size in bytes
 * @param masked whether a 4-byte masking key follows the length
 * @returns the header size in bytes (2 to 14)
 */
export function frameHeaderLength(
  payloadLength: number,
  masked: boolean,
): number {
  let size = 2;
  if (payloadLength > 0xffff) size += 8;
  else if (payloadLength > 125) size += 2;
  return masked ? size + 4 : size;
}

/**
 * Writes a frame header into `target` at `offset`.
 *
 * @param target where to write; needs `frameHeaderLength(...)` bytes free
 * @param offset where the header starts in `target`
 * @param opcode the frame's opcode
 * @param payloadLength the payload size in bytes
 * @param fin whether this is the final frame of its message
 * @param rsv1 whether to set RSV1
 * @param maskKey the 4-byte masking key, or null for an unmasked frame
 * @returns the offset just past the header
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  opcode: Opcode,
  payloadLength: number,
  fin: boolean,
  rsv1: boolean,
  maskKey: Uint8Array | null,
): number {
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) {
    throw new RangeError(`invalid payload length ${payloadLength}`);
  }
  target[offset++] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey === null ? 0 : 0x80;
  if (payloadLength <= 125) {
    target[offset++] = maskBit | payloadLength;
  } else if (payloadLength <= 0xffff) {
    target[offset++] = maskBit | 126;
    target[offset++] = payloadLength >>> 8;
    target[offset++] = payloadLength & 0xff;
  } else {
    target[offset++] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x1_0000_0000);
    const low = payloadLength >>> 0;
    target[offset++] = high >>> 24;
    target[offset++] = (high >>> 16) & 0xff;
    target[offset++] = (high >>> 8) & 0xff;
    target[offset++] = high & 0xff;
    target[offset++] = low >>> 24;
    target[offset++] = (low >>> 16) & 0xff;
    target[offset++] = (low >>> 8) & 0xff;
    target[offset++] = low & 0xff;
  }
  if (maskKey !== null) {
    target[offset++] = maskKey[0];
    target[offset++] = maskKey[1];
    target[offset++] = maskKey[2];
    target[offset++] = maskKey[3];
  }
  return offset;
}

/**
 * Encodes one frame: header and payload in a single new buffer. The payload
 * is copied (and masked in the copy), never modified.
 *
 * @example
 * ```ts
 * // The unmasked "Hello" text frame of RFC 6455 section 5.7.
 * const frame = encodeFrame(Opcode.Text, new TextEncoder().encode("Hello"));
 * // frame is 0x81 0x05 0x48 0x65 0x6c 0x6c 0x6f
 * ```
 *
 * @param opcode the frame's opcode
 * @param payload the payload bytes
 * @param options FIN, RSV1 and masking
 * @returns the encoded frame
 */
export function encodeFrame(
  opcode: Opcode,
  payload: Uint8Array,
  options: EncodeOptions = {},
): Uint8Array {
  const { fin = true, rsv1 = false, mask = false, allocate = newBytes } =
    options;
  return encodeFrameInto(allocate, opcode, payload, mask, fin, rsv1);
}

/**
 * {@linkcode encodeFrame} with its options as arguments, for callers that
 * encode a frame per message and would otherwise make an options object
 * each time.
 *
 * @param allocate as {@linkcode EncodeOptions.allocate}
 * @param opcode the frame's opcode
 * @param payload the payload bytes (copied, never modified)
 * @param mask as {@linkcode EncodeOptions.mask}
 * @param fin whether this is the final frame of its message
 * @param rsv1 whether to set RSV1
 * @returns the encoded frame
 */
export function encodeFrameInto(
  allocate: (length: number) => Uint8Array,
  opcode: Opcode,
  payload: Uint8Array,
  mask: boolean | Uint8Array,
  fin = true,
  rsv1 = false,
): Uint8Array {
  const maskKey = resolveMaskKey(mask);
  const length = payload.length;
  const frame = allocate(frameHeaderLength(length, maskKey !== null) + length);
  encodeFrameAt(frame, 0, opcode, payload, maskKey, fin, rsv1);
  return frame;
}

/**
 * Texts up to this many UTF-16 code units are encoded straight into the
 * frame buffer (sized for the worst case of 3 bytes per unit), saving a
 * separate encode and copy; longer ones are encoded first.
 */
const DIRECT_TEXT_UNITS = 1024;
const textEncoder = new TextEncoder();

/**
 * Encodes one complete text frame (FIN set) for `text`, as
 * `encodeFrame(Opcode.Text, new TextEncoder().encode(text), options)` would,
 * with one allocation instead of two for short texts. Lone surrogates are
 * encoded as U+FFFD, as `TextEncoder` does.
 *
 * @param text the message
 * @param mask as {@linkcode EncodeOptions.mask}
 * @param allocate as {@linkcode EncodeOptions.allocate}; for a short text
 * it is asked for the worst case, and `release(bytes, used)` (when given)
 * hands back what the encoded frame did not need
 * @param release gives back the unused end of an allocation
 * @returns the encoded frame
 */
export function encodeTextFrame(
  text: string,
  mask: boolean | Uint8Array = false,
  allocate: (length: number) => Uint8Array = newBytes,
  release?: (bytes: Uint8Array, used: number) => void,
): Uint8Array {
  if (text.length > DIRECT_TEXT_UNITS) {
    return encodeFrame(Opcode.Text, textEncoder.encode(text), {
      mask,
      allocate,
    });
  }
  const maskKey = resolveMaskKey(mask);
  const buffer = allocate(maxTextFrameLength(text, maskKey !== null));
  const frameLength = encodeTextFrameAt(buffer, 0, text, maskKey);
  release?.(buffer, frameLength);
  return buffer.subarray(0, frameLength);
}

/**
 * The room a text frame for `text` may take, for
 * {@linkcode encodeTextFrameAt}: its header and payload if every UTF-16
 * unit took 3 bytes of UTF-8.
 *
 * @param text the message
 * @param masked whether the frame is masked
 * @returns the most bytes the frame can take
 */
export function maxTextFrameLength(text: string, masked: boolean): number {
  const maxBytes = text.length * 3;
  return frameHeaderLength(maxBytes, masked) + maxBytes;
}

/**
 * Encodes one frame at `offset` in `target`, as {@linkcode encodeFrameInto}
 * encodes it into bytes of its own: for a writer that lays frames back to
 * back in one buffer (no buffer or view per frame).
 *
 * @param target where the frame goes; needs
 * `frameHeaderLength(payload.length, masked) + payload.length` bytes from
 * `offset`
 * @param offset where the frame starts in `target`
 * @param opcode the frame's opcode
 * @param payload the payload bytes (copied, never modified)
 * @param maskKey the 4-byte masking key, or null for an unmasked frame
 * @param fin whether this is the final frame of its message
 * @param rsv1 whether to set RSV1
 * @returns the offset just past the frame
 */
export function encodeFrameAt(
  target: Uint8Array,
  offset: number,
  opcode: Opcode,
  payload: Uint8Array,
  maskKey: Uint8Array | null,
  fin = true,
  rsv1 = false,
): number {
  const payloadStart = writeFrameHeader(
    target,
    offset,
    opcode,
    payload.length,
    fin,
    rsv1,
    maskKey,
  );
  const end = payloadStart + payload.length;
  if (maskKey === null) target.set(payload, payloadStart);
  else copyMasked(target.subarray(payloadStart, end), payload, maskKey);
  return end;
}

/**
 * Encodes one complete text frame (FIN set) at `offset` in `target`, as
 * {@linkcode encodeTextFrame} does into bytes of its own. Texts longer
 * than the direct limit are encoded first and copied.
 *
 * @param target where the frame goes; needs
 * {@linkcode maxTextFrameLength} bytes from `offset`
 * @param offset where the frame starts in `target`
 * @param text the message
 * @param maskKey the 4-byte masking key, or null for an unmasked frame
 * @returns the offset just past the frame
 */
export function encodeTextFrameAt(
  target: Uint8Array,
  offset: number,
  text: string,
  maskKey: Uint8Array | null,
): number {
  if (text.length > DIRECT_TEXT_UNITS) {
    const payload = textEncoder.encode(text);
    return encodeFrameAt(target, offset, Opcode.Text, payload, maskKey);
  }
  const masked = maskKey !== null;
  const maxBytes = text.length * 3;
  const payloadStart = offset + frameHeaderLength(maxBytes, masked);
  const { written } = textEncoder.encodeInto(
    text,
    target.subarray(payloadStart),
  );
  // The header is sized for what was written; when it is shorter than the
  // worst case, the payload moves back so that the frame starts at
  // `offset` (frames laid one after another then lie back to back and are
  // written without a copy).
  const headerEnd = offset + frameHeaderLength(written, masked);
  if (headerEnd < payloadStart) {
    target.copyWithin(headerEnd, payloadStart, payloadStart + written);
  }
  writeFrameHeader(target, offset, Opcode.Text, written, true, false, maskKey);
  const end = headerEnd + written;
  if (maskKey !== null) applyMask(target.subarray(headerEnd, end), maskKey);
  return end;
}
