/**
 * Valid WebSocket byte streams for fuzzing, and the receivers (role and
 * limits) they are fed to.
 *
 * A stream is what a peer sends after the handshake: messages (text with
 * multi-byte UTF-8 cut anywhere, binary, compressed by zlib as a
 * sync-flushing peer does when permessage-deflate is on) in one or more fragments with pings and pongs between fragments,
 * standalone control frames, and maybe a final close frame. Frames are
 * masked when the receiver is a server. `protocol_model.ts` says what a
 * correct receiver reports for them; `length_rewrites.ts` and `bytes.ts`
 * break them.
 *
 * @module
 */
import fc from "fast-check";
import { constants, deflateRawSync } from "node:zlib";
import { encodeFrame } from "../../frame/encoder.ts";
import { PerMessageDeflate } from "../../deflate/extension.ts";
import type { Opcode } from "../../frame/types.ts";
import type { ProtocolOptions, Role } from "../../protocol/types.ts";
import { concat } from "./bytes.ts";

const textEncoder = new TextEncoder();

/** The receiver under test: its role and limits. */
export interface FuzzConfig {
  /** The receiver's role: a server expects masked frames. */
  role: Role;
  /** Whether permessage-deflate was agreed (RSV1 allowed, and messages
   * sent with it inflated). */
  perMessageDeflate: boolean;
  /** Passed to `Protocol` when set. */
  maxMessageSize?: number;
  /** Passed to `Protocol` when set. */
  maxFrameSize?: number;
  /** Passed to `Protocol` when set. */
  maxFragments?: number;
}

/** The documented defaults of `Protocol` (64 MiB, 131,072 frames). */
const DEFAULT_MESSAGE_SIZE = 64 * 1024 * 1024;
const DEFAULT_FRAGMENTS = 128 * 1024;

/** The receiver's effective limits. */
export function limitsOf(
  config: FuzzConfig,
): { message: number; frame: number; fragments: number } {
  const message = config.maxMessageSize ?? DEFAULT_MESSAGE_SIZE;
  return {
    message,
    frame: Math.min(config.maxFrameSize ?? message, message),
    fragments: config.maxFragments ?? DEFAULT_FRAGMENTS,
  };
}

/** The `Protocol` options of a config. */
export function protocolOptions(config: FuzzConfig): ProtocolOptions {
  const options: ProtocolOptions = { role: config.role };
  if (config.perMessageDeflate) options.extension = new PerMessageDeflate();
  if (config.maxMessageSize !== undefined) {
    options.maxMessageSize = config.maxMessageSize;
  }
  if (config.maxFrameSize !== undefined) {
    options.maxFrameSize = config.maxFrameSize;
  }
  if (config.maxFragments !== undefined) {
    options.maxFragments = config.maxFragments;
  }
  return options;
}

/** Receivers with small limits (mostly) and the defaults (sometimes: a
 * mutated length can make them allocate up to 64 MiB, which is slow). */
export const configArbitrary: fc.Arbitrary<FuzzConfig> = fc.record({
  role: fc.constantFrom<Role>("server", "client"),
  perMessageDeflate: fc.boolean(),
  limits: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constant({ maxMessageSize: 1024, maxFragments: 8 }),
    },
    {
      weight: 2,
      arbitrary: fc.constant({
        maxMessageSize: 1024,
        maxFrameSize: 200,
        maxFragments: 8,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.constant({ maxMessageSize: 70_000, maxFragments: 8 }),
    },
    { weight: 1, arbitrary: fc.constant({}) },
  ),
}).map(({ role, perMessageDeflate, limits }) => ({
  role,
  perMessageDeflate,
  ...limits,
}));

/** A ping or pong the peer sends. */
export interface ControlSpec {
  /** Which control frame. */
  kind: "ping" | "pong";
  /** Its payload, at most 125 bytes. */
  data: Uint8Array;
}

/** A data message the peer sends. */
export interface MessageSpec {
  /** Text or binary. */
  type: "text" | "binary";
  /** Sent with RSV1 (only when permessage-deflate is on): the payload is
   * then the message compressed by zlib. */
  compressed: boolean;
  /** The message bytes (UTF-8 for text). */
  data: Uint8Array;
  /** Where the message is cut into fragments (modulo its length + 1). */
  cuts: number[];
  /** Control frames sent between fragments: after fragment `after` modulo
   * the number of gaps. */
  interleaved: Array<{ after: number; control: ControlSpec }>;
}

/** Everything the peer sends. */
export interface StreamSpec {
  /** Messages and standalone control frames, in order. */
  items: Array<
    { kind: "message"; message: MessageSpec } | {
      kind: "control";
      control: ControlSpec;
    }
  >;
  /** The final close frame's payload (empty, or code and reason), if any. */
  close: Uint8Array | null;
  /** Seed of the masking keys (each frame gets its own key from it). */
  maskSeed: Uint8Array;
}

/** One frame of a stream, before encoding. */
export interface FrameSpec {
  /** The opcode. */
  opcode: Opcode;
  /** FIN. */
  fin: boolean;
  /** RSV1 (a compressed message's first frame). */
  rsv1: boolean;
  /** The unmasked payload. */
  payload: Uint8Array;
}

const controlArbitrary: fc.Arbitrary<ControlSpec> = fc.record({
  kind: fc.constantFrom<"ping" | "pong">("ping", "pong"),
  data: fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 16 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 125 }) },
  ),
});

/** Text whose UTF-8 length often sits at a limit or length boundary. */
const textBytesArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.string({ unit: "binary", maxLength: 80 }).map((text) =>
      textEncoder.encode(text)
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom("a", "\u00e9", "\u20ac", "\u{1F600}"),
      fc.integer({ min: 30, max: 1100 }),
    ).map(([character, count]) => textEncoder.encode(character.repeat(count))),
  },
  {
    // A leading byte order mark is part of the text.
    weight: 1,
    arbitrary: fc.string({ unit: "binary", maxLength: 8 }).map((text) =>
      textEncoder.encode("\ufeff" + text)
    ),
  },
);

/** Sizes at the 7/16/64-bit length encoding edges and at the limits of
 * {@linkcode configArbitrary} (200-byte frames, 1024 and 70,000 bytes). */
const BOUNDARY_SIZES = [
  125,
  126,
  127,
  199,
  200,
  201,
  1023,
  1024,
  1025,
  65535,
  65536,
  70_000,
  70_001,
];

const binaryBytesArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 12, arbitrary: fc.uint8Array({ maxLength: 160 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...BOUNDARY_SIZES), fc.nat(255)).map((
      [size, fill],
    ) => new Uint8Array(size).fill(fill)),
  },
);

function messageArbitrary(
  perMessageDeflate: boolean,
): fc.Arbitrary<MessageSpec> {
  const type = fc.constantFrom<"text" | "binary">("text", "binary");
  return fc.record({
    type,
    compressed: perMessageDeflate ? fc.boolean() : fc.constant(false),
    textData: textBytesArbitrary,
    binaryData: binaryBytesArbitrary,
    cuts: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      { weight: 3, arbitrary: fc.array(fc.nat(), { maxLength: 6 }) },
      { weight: 1, arbitrary: fc.array(fc.nat(), { maxLength: 12 }) },
    ),
    interleaved: fc.array(
      fc.record({ after: fc.nat(), control: controlArbitrary }),
      { maxLength: 2 },
    ),
  }).map(({ type, compressed, textData, binaryData, cuts, interleaved }) => ({
    type,
    compressed,
    data: type === "text" ? textData : binaryData,
    cuts,
    interleaved,
  }));
}

/** A close payload: empty, or a valid code with a UTF-8 reason that fits. */
const closePayloadArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.tuple(
    fc.oneof(
      fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011),
      fc.integer({ min: 1000, max: 1003 }),
      fc.integer({ min: 1007, max: 1014 }),
      fc.integer({ min: 3000, max: 4999 }),
    ),
    fc.oneof(
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.string({ maxLength: 4 }).map((text) => "\ufeff" + text),
    ),
  ).map(([code, reason]) => {
    let reasonBytes = textEncoder.encode(reason);
    while (reasonBytes.length > 123) {
      reason = reason.slice(0, -1);
      reasonBytes = textEncoder.encode(reason);
    }
    return concat([new Uint8Array([code >>> 8, code & 0xff]), reasonBytes]);
  }),
);

/** A valid stream for a receiver with permessage-deflate on or off. */
export function streamArbitrary(
  perMessageDeflate: boolean,
): fc.Arbitrary<StreamSpec> {
  const item = fc.oneof(
    {
      weight: 4,
      arbitrary: messageArbitrary(perMessageDeflate).map((message) => ({
        kind: "message" as const,
        message,
      })),
    },
    {
      weight: 1,
      arbitrary: controlArbitrary.map((control) => ({
        kind: "control" as const,
        control,
      })),
    },
  );
  return fc.record({
    items: fc.array(item, { maxLength: 6 }),
    close: fc.option(closePayloadArbitrary, { nil: null }),
    maskSeed: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  });
}

/** A config together with a valid stream for it. */
export const configuredStreamArbitrary: fc.Arbitrary<
  { config: FuzzConfig; stream: StreamSpec }
> = configArbitrary.chain((config) =>
  streamArbitrary(config.perMessageDeflate).map((stream) => ({
    config,
    stream,
  }))
);

function controlFrame(control: ControlSpec): FrameSpec {
  return {
    opcode: control.kind === "ping" ? 0x9 : 0xa,
    fin: true,
    rsv1: false,
    payload: control.data,
  };
}

/** The payload a zlib-based peer sends for a compressed message: raw
 * deflate, sync-flushed, without the final 00 00 ff ff (RFC 7692 7.2.1). */
function zlibPayload(data: Uint8Array): Uint8Array {
  const flushed = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  return new Uint8Array(flushed.subarray(0, flushed.length - 4));
}

/** Cuts a message into its frames, with control frames between them. */
function messageFrames(message: MessageSpec): FrameSpec[] {
  const payload = message.compressed ? zlibPayload(message.data) : message.data;
  const length = payload.length;
  const points = [...new Set(message.cuts.map((cut) => cut % (length + 1)))]
    .sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(payload.subarray(start, point));
    start = point;
  }
  pieces.push(payload.subarray(start));
  const gaps = pieces.length - 1;
  const frames: FrameSpec[] = [];
  pieces.forEach((piece, index) => {
    frames.push({
      opcode: index === 0 ? (message.type === "text" ? 0x1 : 0x2) : 0x0,
      fin: index === pieces.length - 1,
      rsv1: index === 0 && message.compressed,
      payload: piece,
    });
    if (index < gaps) {
      for (const { after, control } of message.interleaved) {
        if (after % gaps === index) frames.push(controlFrame(control));
      }
    }
  });
  return frames;
}

/** The frames of a stream, in order. */
export function streamFrames(stream: StreamSpec): FrameSpec[] {
  const frames: FrameSpec[] = [];
  for (const item of stream.items) {
    if (item.kind === "message") frames.push(...messageFrames(item.message));
    else frames.push(controlFrame(item.control));
  }
  if (stream.close !== null) {
    frames.push({
      opcode: 0x8,
      fin: true,
      rsv1: false,
      payload: stream.close,
    });
  }
  return frames;
}

/** An encoded stream and where each frame starts in it. */
export interface EncodedStream {
  /** The bytes on the wire. */
  bytes: Uint8Array;
  /** The offset of each frame's first byte. */
  frameStarts: number[];
}

/** Encodes frames, masked (each with its own key from the seed) when the
 * receiver is a server. */
export function encodeStream(
  frames: readonly FrameSpec[],
  role: Role,
  maskSeed: Uint8Array,
): EncodedStream {
  const parts: Uint8Array[] = [];
  const frameStarts: number[] = [];
  let offset = 0;
  frames.forEach((frame, index) => {
    const mask = role === "server"
      ? maskSeed.map((byte, i) => (byte + index * (31 + i)) & 0xff)
      : false;
    const encoded = encodeFrame(frame.opcode, frame.payload, {
      fin: frame.fin,
      rsv1: frame.rsv1,
      mask,
    });
    frameStarts.push(offset);
    parts.push(encoded);
    offset += encoded.length;
  });
  return { bytes: concat(parts), frameStarts };
}
