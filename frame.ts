/**
 * The RFC 6455 frame layer (section 5): an encoder, masking, and an
 * incremental decoder that accepts bytes in any split (one byte at a time,
 * half a header, many frames at once) and hands out every complete frame in
 * order.
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

import {
  MessageTooBigError,
  ProtocolError,
  type WebSocketError,
} from "./errors.ts";
import { applyMask, randomMaskKey, resolveMaskKey } from "./mask.ts";

export { applyMask, randomMaskKey };

/** Frame opcodes (RFC 6455 section 5.2). 0x3-0x7 and 0xB-0xF are reserved. */
export const Opcode = {
  /** A continuation of a fragmented message. */
  Continuation: 0x0,
  /** The first frame of a text message. */
  Text: 0x1,
  /** The first frame of a binary message. */
  Binary: 0x2,
  /** A close frame. */
  Close: 0x8,
  /** A ping frame. */
  Ping: 0x9,
  /** A pong frame. */
  Pong: 0xa,
} as const;

/** One of the defined opcodes. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Control frames carry at most this many payload bytes (section 5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** The bit of RSV1 in the decoder's `allowedReservedBits` mask. */
export const RSV1 = 0x4;
/** The bit of RSV2 in the decoder's `allowedReservedBits` mask. */
export const RSV2 = 0x2;
/** The bit of RSV3 in the decoder's `allowedReservedBits` mask. */
export const RSV3 = 0x1;

/** One decoded frame. The payload is already unmasked. */
export interface Frame {
  /** Whether this is the final frame of its message. */
  fin: boolean;
  /** RSV1 (set by permessage-deflate on a compressed message's first frame). */
  rsv1: boolean;
  /** RSV2, reserved for extensions. */
  rsv2: boolean;
  /** RSV3, reserved for extensions. */
  rsv3: boolean;
  /** The frame's opcode. */
  opcode: Opcode;
  /** Whether the frame was masked on the wire. */
  masked: boolean;
  /**
   * The unmasked payload. Often a view into the chunk given to
   * {@linkcode FrameDecoder.push}; copy it to keep it past the next push.
   */
  payload: Uint8Array;
}

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
   * every one of them). Default a new `Uint8Array`. (`Protocol` passes `allocateFrameBytes` from
   * `frame_slab.ts`, which cuts small frames from shared slabs.)
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
  const maskKey = resolveMaskKey(mask);
  const length = payload.length;
  const headerLength = frameHeaderLength(length, maskKey !== null);
  const frame = allocate(headerLength + length);
  writeFrameHeader(frame, 0, opcode, length, fin, rsv1, maskKey);
  frame.set(payload, headerLength);
  if (maskKey !== null) applyMask(frame.subarray(headerLength), maskKey);
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
  const masked = maskKey !== null;
  const maxBytes = text.length * 3;
  const payloadStart = frameHeaderLength(maxBytes, masked);
  const buffer = allocate(payloadStart + maxBytes);
  const { written } = textEncoder.encodeInto(
    text,
    buffer.subarray(payloadStart),
  );
  // The header is sized for what was written; when it is shorter than the
  // worst case, the payload moves back so that the frame starts where the
  // allocation does (frames cut one after another from a slab then lie back
  // to back and are written without a copy).
  const headerLength = frameHeaderLength(written, masked);
  if (headerLength < payloadStart) {
    buffer.copyWithin(headerLength, payloadStart, payloadStart + written);
  }
  const frameLength = headerLength + written;
  release?.(buffer, frameLength);
  writeFrameHeader(buffer, 0, Opcode.Text, written, true, false, maskKey);
  if (maskKey !== null) {
    applyMask(buffer.subarray(headerLength, frameLength), maskKey);
  }
  return buffer.subarray(0, frameLength);
}

/** Options of {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * `true` when every frame must be masked (a server reading a client),
   * `false` when none may be (a client reading a server), `null` to accept
   * both (tools that inspect traffic).
   */
  expectMasked: boolean | null;
  /**
   * The largest data-frame payload accepted, checked from the header before
   * any payload is buffered. Default: no limit beyond what a 63-bit length
   * and memory allow.
   */
  maxPayloadLength?: number;
  /**
   * Which RSV bits an extension owns ({@linkcode RSV1} | {@linkcode RSV2} |
   * {@linkcode RSV3}); any other RSV bit set is a protocol error. Default 0.
   */
  allowedReservedBits?: number;
}

const EMPTY = new Uint8Array(0);

/**
 * A payload that spans reads is gathered in a buffer that starts at this
 * many bytes (or the frame's length, if smaller) and quadruples as bytes
 * arrive: 64 KiB.
 */
export const PAYLOAD_INITIAL_BYTES = 64 * 1024;

/**
 * An incremental frame decoder. `push` bytes as they arrive, then call
 * `next` until it returns `undefined`. Frames come out complete, unmasked, in
 * order. The decoder takes ownership of pushed chunks: it unmasks payloads in
 * place and hands out views of them.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder({ expectMasked: false });
 * decoder.push(new Uint8Array([0x81, 0x05, 0x48, 0x65]));
 * decoder.next(); // undefined: the frame is not complete yet
 * decoder.push(new Uint8Array([0x6c, 0x6c, 0x6f]));
 * decoder.next(); // { fin: true, opcode: 1, payload: "Hello" as bytes, ... }
 * ```
 */
export class FrameDecoder {
  /** The largest data-frame payload accepted (see the option). */
  maxPayloadLength: number;
  /** Which limit `maxPayloadLength` stands for, named in the error. */
  limitRule: "FrameTooLarge" | "MessageTooLarge" = "FrameTooLarge";
  readonly #expectMasked: boolean | null;
  readonly #allowedReservedBits: number;

  #chunk: Uint8Array = EMPTY;
  #offset = 0;
  /** A header split across chunks is gathered here. */
  #header: Uint8Array | null = null;
  #headerFilled = 0;
  /** True between a complete header and the end of its payload. */
  #inPayload = false;
  #fin = false;
  #rsv = 0;
  #opcode: Opcode = Opcode.Continuation;
  #masked = false;
  readonly #maskKey = new Uint8Array(4);
  #payloadLength = 0;
  /** A payload split across chunks is gathered here. */
  #payload: Uint8Array | null = null;
  #payloadFilled = 0;
  #error: WebSocketError | null = null;

  /**
   * Creates a decoder.
   *
   * @param options masking expectation, size limit and allowed RSV bits
   */
  constructor(options: FrameDecoderOptions) {
    this.#expectMasked = options.expectMasked;
    this.maxPayloadLength = options.maxPayloadLength ?? Number.MAX_SAFE_INTEGER;
    this.#allowedReservedBits = options.allowedReservedBits ?? 0;
  }

  /**
   * Adds received bytes. The decoder keeps and may modify `chunk`.
   *
   * @param chunk the next bytes from the peer
   */
  push(chunk: Uint8Array): void {
    const remaining = this.#chunk.length - this.#offset;
    if (remaining === 0) {
      this.#chunk = chunk;
    } else {
      // Only when the caller pushes before draining `next()`.
      const joined = new Uint8Array(remaining + chunk.length);
      joined.set(this.#chunk.subarray(this.#offset));
      joined.set(chunk, remaining);
      this.#chunk = joined;
    }
    this.#offset = 0;
  }

  /** Bytes pushed but not yet consumed, including a partial frame. */
  get bufferedBytes(): number {
    return this.#chunk.length - this.#offset + this.#headerFilled +
      this.#payloadFilled;
  }

  /**
   * The next complete frame, or `undefined` when more bytes are needed.
   *
   * @returns the next frame, if complete
   * @throws {WebSocketError} when the peer broke a framing rule; every later
   * call throws the same error
   */
  next(): Frame | undefined {
    if (this.#error !== null) throw this.#error;
    try {
      return this.#next();
    } catch (error) {
      this.#error = error as WebSocketError;
      this.#chunk = EMPTY;
      this.#offset = 0;
      this.#header = null;
      this.#headerFilled = 0;
      this.#payload = null;
      this.#payloadFilled = 0;
      throw error;
    }
  }

  #next(): Frame | undefined {
    const chunk = this.#chunk;
    if (!this.#inPayload) {
      const start = this.#offset;
      const available = chunk.length - start;
      if (this.#headerFilled === 0 && available >= 2) {
        const size = headerSizeFromSecondByte(chunk[start + 1]);
        if (available >= size) {
          this.#parseHeader(chunk, start);
          this.#offset = start + size;
        } else if (!this.#gatherHeader()) {
          return undefined;
        }
      } else if (!this.#gatherHeader()) {
        return undefined;
      }
      this.#inPayload = true;
    }

    const length = this.#payloadLength;
    if (this.#payload === null) {
      const start = this.#offset;
      if (chunk.length - start >= length) {
        const payload = chunk.subarray(start, start + length);
        this.#offset = start + length;
        if (this.#masked) applyMask(payload, this.#maskKey);
        return this.#emit(payload);
      }
      // Memory follows the bytes that actually arrive, not the length the
      // header announced: a peer that announces 64 MiB and sends 10 bytes
      // gets a small buffer.
      this.#payload = new Uint8Array(Math.min(length, PAYLOAD_INITIAL_BYTES));
      this.#payloadFilled = 0;
    }
    const take = Math.min(
      chunk.length - this.#offset,
      length - this.#payloadFilled,
    );
    if (this.#payloadFilled + take > this.#payload.length) {
      this.#growPayload(this.#payloadFilled + take);
    }
    const payload = this.#payload;
    payload.set(
      chunk.subarray(this.#offset, this.#offset + take),
      this.#payloadFilled,
    );
    this.#offset += take;
    this.#payloadFilled += take;
    if (this.#payloadFilled < length) return undefined;
    this.#payload = null;
    this.#payloadFilled = 0;
    if (this.#masked) applyMask(payload, this.#maskKey);
    return this.#emit(payload);
  }

  /** Quadruples the payload buffer until `needed` fits, never past the frame. */
  #growPayload(needed: number): void {
    const old = this.#payload!;
    let capacity = old.length * 4;
    while (capacity < needed) capacity *= 4;
    const grown = new Uint8Array(Math.min(capacity, this.#payloadLength));
    grown.set(old.subarray(0, this.#payloadFilled));
    this.#payload = grown;
  }

  /** Copies header bytes from the chunk; true once the header is parsed. */
  #gatherHeader(): boolean {
    if (this.#offset >= this.#chunk.length) {
      // Nothing to gather: do not keep a chunk fully read (the caller
      // reuses its buffer) nor allocate a header buffer for nothing.
      if (this.#chunk !== EMPTY) {
        this.#chunk = EMPTY;
        this.#offset = 0;
      }
      return false;
    }
    if (this.#header === null) this.#header = new Uint8Array(14);
    const header = this.#header;
    const chunk = this.#chunk;
    let needed = this.#headerFilled < 2
      ? 2
      : headerSizeFromSecondByte(header[1]);
    while (this.#headerFilled < needed) {
      if (this.#offset >= chunk.length) return false;
      header[this.#headerFilled++] = chunk[this.#offset++];
      if (this.#headerFilled === 2) {
        needed = headerSizeFromSecondByte(header[1]);
      }
    }
    this.#parseHeader(header, 0);
    this.#headerFilled = 0;
    this.#header = null;
    return true;
  }

  /** Reads and validates a complete header at `bytes[start]`. */
  #parseHeader(bytes: Uint8Array, start: number): void {
    const first = bytes[start];
    const second = bytes[start + 1];
    const fin = (first & 0x80) !== 0;
    const rsv = (first >>> 4) & 0x7;
    const opcode = first & 0x0f;
    const masked = (second & 0x80) !== 0;
    let length = second & 0x7f;
    let position = start + 2;

    if (!isKnownOpcode(opcode)) {
      throw new ProtocolError(
        "ReservedOpcode",
        `reserved opcode 0x${opcode.toString(16)}`,
      );
    }
    if ((rsv & ~this.#allowedReservedBits) !== 0) {
      throw new ProtocolError(
        "ReservedBitsSet",
        "RSV bits set that no negotiated extension owns",
      );
    }
    if (this.#expectMasked === true && !masked) {
      throw new ProtocolError(
        "UnmaskedFrameFromClient",
        "a client frame must be masked",
      );
    }
    if (this.#expectMasked === false && masked) {
      throw new ProtocolError(
        "MaskedFrameFromServer",
        "a server frame must not be masked",
      );
    }
    if (opcode >= 0x8) {
      if (!fin) {
        throw new ProtocolError(
          "FragmentedControlFrame",
          "a control frame must not be fragmented",
        );
      }
      if (length > MAX_CONTROL_PAYLOAD) {
        throw new ProtocolError(
          "ControlFrameTooLong",
          "a control frame payload must be at most 125 bytes",
        );
      }
    }
    if (length === 126) {
      length = (bytes[position] << 8) | bytes[position + 1];
      position += 2;
    } else if (length === 127) {
      const high = ((bytes[position] << 24) | (bytes[position + 1] << 16) |
        (bytes[position + 2] << 8) | bytes[position + 3]) >>> 0;
      const low = ((bytes[position + 4] << 24) | (bytes[position + 5] << 16) |
        (bytes[position + 6] << 8) | bytes[position + 7]) >>> 0;
      position += 8;
      if (high >= 0x8000_0000) {
        throw new ProtocolError(
          "LengthTopBitSet",
          "the most significant bit of a 64-bit length must be 0",
        );
      }
      // Lengths past 2^53 lose precision here but fail the limit below.
      length = high * 0x1_0000_0000 + low;
    }
    if (opcode < 0x8 && length > this.maxPayloadLength) {
      throw new MessageTooBigError(
        this.limitRule,
        this.limitRule === "FrameTooLarge"
          ? `frame payload of ${length} bytes exceeds the limit of ${this.maxPayloadLength}`
          : `message would exceed the limit: ${length} more bytes with only ${this.maxPayloadLength} left`,
      );
    }
    if (masked) {
      const key = this.#maskKey;
      key[0] = bytes[position];
      key[1] = bytes[position + 1];
      key[2] = bytes[position + 2];
      key[3] = bytes[position + 3];
    }
    this.#fin = fin;
    this.#rsv = rsv;
    this.#opcode = opcode;
    this.#masked = masked;
    this.#payloadLength = length;
  }

  #emit(payload: Uint8Array): Frame {
    this.#inPayload = false;
    const rsv = this.#rsv;
    return {
      fin: this.#fin,
      rsv1: (rsv & RSV1) !== 0,
      rsv2: (rsv & RSV2) !== 0,
      rsv3: (rsv & RSV3) !== 0,
      opcode: this.#opcode,
      masked: this.#masked,
      payload,
    };
  }
}

function isKnownOpcode(opcode: number): opcode is Opcode {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** The full header size announced by a header's second byte. */
function headerSizeFromSecondByte(second: number): number {
  const lengthCode = second & 0x7f;
  let size = 2;
  if (lengthCode === 126) size += 2;
  else if (lengthCode === 127) size += 8;
  if ((second & 0x80) !== 0) size += 4;
  return size;
}
