/**
 * The incremental frame decoder (RFC 6455 section 5): it accepts bytes in any
 * split (one byte at a time, half a header, many frames at once), checks
 * every header rule before buffering payload, and hands out each complete
 * frame in order, unmasked; the frame still arriving can be looked at too
 * (its payload so far, unmasked), so a text frame's UTF-8 can be checked
 * before it is complete.
 *
 * @module
 */

import {
  MessageTooBigError,
  ProtocolError,
  type WebSocketError,
} from "../errors.ts";
import { concatBytes } from "./bytes.ts";
import { applyMask, copyMasked } from "./mask.ts";
import {
  claimPayloadStage,
  PAYLOAD_STAGE_BYTES,
  releasePayloadStage,
  stagedBytes,
  type StageHolder,
  stagePiece,
} from "./payload_stage.ts";
import {
  type Frame,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  type PartialFrame,
  RSV1,
  RSV2,
  RSV3,
} from "./types.ts";
import { DEFAULTS } from "../defaults.ts";

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
  /**
   * Whether the payload of a whole, uncompressed binary message (a Binary
   * frame with FIN set and no RSV bit) that arrived within one chunk comes
   * out in a buffer of its own, unmasked as it is copied, instead of as a
   * view of the chunk: for a caller that copies every binary message
   * anyway (a socket whose events carry `ArrayBuffer`s). Default false.
   */
  ownBinaryPayloads?: boolean;
}

/** Below this many bytes an owned payload is copied (and unmasked) byte by
 * byte, without making a view of the chunk for the copy. */
const OWNED_PAYLOAD_LOOP_BYTES = 64;

const EMPTY = new Uint8Array(0);
/** `#payload` while the payload is gathered in the shared payload stage. */
const STAGED = new Uint8Array(0);

/**
 * An incremental frame decoder. `push` bytes as they arrive, then call
 * `next` until it returns `undefined`. Frames come out complete, unmasked, in
 * order; `partialFrame` shows the one still arriving. The decoder takes
 * ownership of pushed chunks: it unmasks payloads in place and hands out
 * views of them.
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
  readonly #ownBinaryPayloads: boolean;

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
  /**
   * A payload split across chunks is gathered here, or in the shared payload
   * stage when this is {@linkcode STAGED}.
   */
  #payload: Uint8Array | null = null;
  /** `#payloadSoFar` for the frames `partialFrame` returns. */
  #payloadSoFarFunction: (() => Uint8Array) | null = null;
  /** What the payload stage calls to move this decoder's bytes out. */
  #stageHolder: StageHolder | null = null;
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
    this.#ownBinaryPayloads = options.ownBinaryPayloads ?? false;
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
      this.#chunk = concatBytes([this.#chunk.subarray(this.#offset), chunk]);
    }
    this.#offset = 0;
  }

  /** Bytes pushed but not yet consumed, including a partial frame. */
  get bufferedBytes(): number {
    return this.#chunk.length - this.#offset + this.#headerFilled +
      this.#payloadFilled;
  }

  /**
   * Bytes the frame in progress still needs beyond those pushed: its
   * payload not yet received. 0 between frames, while a header is
   * incomplete, and after an error. Lets a reader size its next read.
   */
  get frameBytesMissing(): number {
    if (!this.#inPayload || this.#error !== null) return 0;
    const pushed = this.#payload === null
      ? this.#chunk.length - this.#offset
      : this.#payloadFilled;
    return Math.max(this.#payloadLength - pushed, 0);
  }

  /**
   * The next complete frame, or `undefined` when more bytes are needed.
   *
   * @returns the next frame, if complete
   * @throws {WebSocketError} when the peer broke a framing rule; every later
   * call throws the same error
   */
  next(): Frame | undefined {
    const payload = this.#nextPayload();
    if (payload === undefined) return undefined;
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

  /**
   * Reads the next complete frame into `frame`, overwriting every field:
   * {@linkcode next} without a new object per frame, for a caller that is
   * done with a frame before it reads the next.
   *
   * @param frame the record to fill
   * @returns whether a frame was complete (`frame` is untouched if not)
   * @throws {WebSocketError} as {@linkcode next} does
   */
  nextInto(frame: Frame): boolean {
    const payload = this.#nextPayload();
    if (payload === undefined) return false;
    const rsv = this.#rsv;
    frame.fin = this.#fin;
    frame.rsv1 = (rsv & RSV1) !== 0;
    frame.rsv2 = (rsv & RSV2) !== 0;
    frame.rsv3 = (rsv & RSV3) !== 0;
    frame.opcode = this.#opcode;
    frame.masked = this.#masked;
    frame.payload = payload;
    return true;
  }

  /** The payload of the next complete frame, whose header fields are then
   * this decoder's until it reads the next header. */
  #nextPayload(): Uint8Array | undefined {
    if (this.#error !== null) throw this.#error;
    try {
      const payload = this.#next();
      if (payload === undefined && this.#offset === this.#chunk.length) {
        // Every byte was taken: keep no reference to the caller's chunk.
        this.#chunk = EMPTY;
        this.#offset = 0;
      }
      return payload;
    } catch (error) {
      this.#error = error as WebSocketError;
      this.#chunk = EMPTY;
      this.#offset = 0;
      this.#header = null;
      this.#headerFilled = 0;
      if (this.#payload === STAGED) releasePayloadStage(this.#stageHolder!);
      this.#payload = null;
      this.#payloadFilled = 0;
      throw error;
    }
  }

  #next(): Uint8Array | undefined {
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
        this.#offset = start + length;
        if (
          this.#ownBinaryPayloads && this.#opcode === Opcode.Binary &&
          this.#fin && this.#rsv === 0
        ) {
          return this.#emit(this.#ownedPayload(chunk, start, length));
        }
        const payload = chunk.subarray(start, start + length);
        if (this.#masked) applyMask(payload, this.#maskKey);
        return this.#emit(payload);
      }
    }
    return this.#gatherPayload();
  }

  /** The payload at `chunk[start]`, unmasked into a buffer of its own. */
  #ownedPayload(chunk: Uint8Array, start: number, length: number): Uint8Array {
    const payload = new Uint8Array(length);
    if (length >= OWNED_PAYLOAD_LOOP_BYTES) {
      const piece = chunk.subarray(start, start + length);
      if (this.#masked) copyMasked(payload, piece, this.#maskKey);
      else payload.set(piece);
    } else if (this.#masked) {
      const key = this.#maskKey;
      for (let index = 0; index < length; index++) {
        payload[index] = chunk[start + index] ^ key[index & 3];
      }
    } else {
      for (let index = 0; index < length; index++) {
        payload[index] = chunk[start + index];
      }
    }
    return payload;
  }

  /**
   * `#next` for a payload that spans chunks: the piece in this chunk is
   * unmasked into the payload stage (large frames) or the payload buffer.
   */
  #gatherPayload(): Uint8Array | undefined {
    const chunk = this.#chunk;
    const length = this.#payloadLength;
    if (this.#payload === null) {
      this.#payloadFilled = 0;
      if (length > DEFAULTS.limits.payloadInitialBytes && this.#claimStage()) {
        return this.#nextStaged();
      }
      this.#payload = new Uint8Array(this.#payloadCapacity(0));
    } else if (this.#payload === STAGED) {
      return this.#nextStaged();
    }
    const take = Math.min(
      chunk.length - this.#offset,
      length - this.#payloadFilled,
    );
    if (this.#payloadFilled + take > this.#payload.length) {
      this.#movePayload(this.#payload!, this.#payloadFilled + take);
    }
    const payload = this.#payload;
    const filled = this.#payloadFilled;
    const piece = chunk.subarray(this.#offset, this.#offset + take);
    // Unmasked piece by piece, so partialFrame() can show what arrived.
    if (this.#masked) {
      copyMasked(
        payload.subarray(filled, filled + take),
        piece,
        this.#maskKey,
        filled,
      );
    } else {
      payload.set(piece, filled);
    }
    this.#offset += take;
    this.#payloadFilled = filled + take;
    if (this.#payloadFilled < length) return undefined;
    this.#payload = null;
    this.#payloadFilled = 0;
    return this.#emit(payload);
  }

  /** Takes the shared payload stage for this frame; false if unavailable. */
  #claimStage(): boolean {
    this.#stageHolder ??= {
      leaveStage: () => this.#leaveStage(this.#payloadFilled),
    };
    if (!claimPayloadStage(this.#stageHolder)) return false;
    this.#payload = STAGED;
    return true;
  }

  /**
   * `#next` for a payload gathered in the payload stage: the piece in this
   * chunk goes there, unmasked; the complete payload is copied out once, to
   * a buffer of its size. A piece that would pass the stage's end moves the
   * payload to a buffer of the decoder's own first.
   */
  #nextStaged(): Uint8Array | undefined {
    const chunk = this.#chunk;
    const length = this.#payloadLength;
    const filled = this.#payloadFilled;
    const take = Math.min(chunk.length - this.#offset, length - filled);
    if (filled + take > PAYLOAD_STAGE_BYTES) {
      this.#leaveStage(filled + take);
      return this.#gatherPayload();
    }
    const piece = chunk.subarray(this.#offset, this.#offset + take);
    stagePiece(filled, piece, this.#masked ? this.#maskKey : null);
    this.#offset += take;
    this.#payloadFilled = filled + take;
    if (this.#payloadFilled < length) return undefined;
    const payload = new Uint8Array(length);
    payload.set(stagedBytes(length));
    releasePayloadStage(this.#stageHolder!);
    this.#payload = null;
    this.#payloadFilled = 0;
    return this.#emit(payload);
  }

  /**
   * The frame whose payload is arriving, once `next` returned `undefined`
   * in the middle of it: its header and the payload bytes received so far,
   * unmasked. Lets a caller check a frame's content before it is complete
   * (a text frame's UTF-8). `undefined` between frames, while a header is
   * incomplete, and after an error.
   *
   * @returns the frame so far, if one is in progress
   */
  partialFrame(): PartialFrame | undefined {
    if (!this.#inPayload || this.#error !== null) return undefined;
    const rsv = this.#rsv;
    this.#payloadSoFarFunction ??= () => this.#payloadSoFar();
    return new PartialFrameView(
      this.#fin,
      rsv,
      this.#opcode,
      this.#masked,
      this.#payloadLength,
      this.#payloadSoFarFunction,
    );
  }

  /** The payload bytes received so far, in this decoder's own buffer. */
  #payloadSoFar(): Uint8Array {
    this.#leaveStage(this.#payloadFilled);
    return this.#payload === null
      ? EMPTY
      : this.#payload.subarray(0, this.#payloadFilled);
  }

  /**
   * Moves the staged bytes to a buffer of this decoder's own, with room for
   * `needed` bytes (see `payload_stage.ts`).
   */
  #leaveStage(needed: number): void {
    if (this.#payload !== STAGED) return;
    this.#movePayload(stagedBytes(this.#payloadFilled), needed);
    releasePayloadStage(this.#stageHolder!);
  }

  /**
   * The payload buffer size for `needed` bytes: memory follows the bytes
   * that actually arrive, not the length the header announced (a peer that
   * announces 64 MiB and sends 10 bytes gets a small buffer), the initial
   * size quadrupled until they fit, never past the frame.
   */
  #payloadCapacity(needed: number): number {
    let capacity = DEFAULTS.limits.payloadInitialBytes;
    while (capacity < needed) capacity *= 4;
    return Math.min(capacity, this.#payloadLength);
  }

  /**
   * Moves the payload bytes received so far (the start of `from`) to a new
   * buffer of this decoder's own with room for `needed` bytes: how a
   * payload buffer grows, and how a payload leaves the stage.
   */
  #movePayload(from: Uint8Array, needed: number): void {
    const payload = new Uint8Array(this.#payloadCapacity(needed));
    payload.set(from.subarray(0, this.#payloadFilled));
    this.#payload = payload;
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

  /** The frame is complete: its payload is handed out. */
  #emit(payload: Uint8Array): Uint8Array {
    this.#inPayload = false;
    return payload;
  }
}

/**
 * What `partialFrame` returns. The payload is a getter (on the prototype, so
 * the object is as cheap to make as a literal): a payload gathered in the
 * shared payload stage leaves it only when someone looks at it.
 */
class PartialFrameView implements PartialFrame {
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  readonly opcode: Opcode;
  readonly masked: boolean;
  readonly payloadLength: number;
  readonly #payloadSoFar: () => Uint8Array;

  constructor(
    fin: boolean,
    rsv: number,
    opcode: Opcode,
    masked: boolean,
    payloadLength: number,
    payloadSoFar: () => Uint8Array,
  ) {
    this.fin = fin;
    this.rsv1 = (rsv & RSV1) !== 0;
    this.rsv2 = (rsv & RSV2) !== 0;
    this.rsv3 = (rsv & RSV3) !== 0;
    this.opcode = opcode;
    this.masked = masked;
    this.payloadLength = payloadLength;
    this.#payloadSoFar = payloadSoFar;
  }

  get payload(): Uint8Array {
    return this.#payloadSoFar();
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
