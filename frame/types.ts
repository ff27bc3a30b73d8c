/**
 * What both halves of the frame layer share: opcodes, RSV bits, the control
 * payload limit and the shape of a decoded frame (RFC 6455 section 5.2).
 *
 * @module
 */

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
   * `FrameDecoder.push`; copy it to keep it past the next push.
   */
  payload: Uint8Array;
}

/**
 * A frame whose payload is still arriving (see `FrameDecoder.partialFrame`):
 * its header, and the part of its payload received so far, unmasked.
 */
export interface PartialFrame extends Frame {
  /**
   * The payload bytes received so far, unmasked: a view into the decoder's
   * buffer, valid until the next `push` or `next`.
   */
  payload: Uint8Array;
  /** The payload length the header announced. */
  payloadLength: number;
}
