/**
 * The WebSocket protocol state machine, sans-I/O: feed it the bytes that
 * arrived ({@linkcode Protocol.push}), act on each event as
 * {@linkcode Protocol.nextEvent} reads it (or on all of them at once with
 * {@linkcode Protocol.receive}), and write out what
 * {@linkcode Protocol.takeOutgoing} gives. It never touches a socket or a
 * timer, so it runs unchanged in Deno, Bun and browsers, and every rule can
 * be tested with plain byte arrays.
 *
 * It enforces RFC 6455 beyond framing: message reassembly (control frames
 * may arrive between fragments), UTF-8 in text messages (failing at the
 * first bad byte received, inside a frame still arriving too), automatic
 * pongs, the close handshake with close-code and reason validation, and
 * size limits decided before payload bytes are buffered. An agreed
 * extension (`ProtocolOptions.extension`, such as permessage-deflate)
 * decodes compressed messages as they are read, under the same limits and
 * UTF-8 check.
 *
 * @module
 */

import {
  CloseCode,
  FragmentSequenceError,
  InvalidPayloadError,
  InvalidStateError,
  MessageTooBigError,
  ProtocolError,
  WebSocketError,
} from "../errors.ts";
import { Fifo } from "./fifo.ts";
import {
  encodeFrame,
  encodeFrameAt,
  encodeFrameInto,
  encodeTextFrame,
  encodeTextFrameAt,
  frameHeaderLength,
  maxTextFrameLength,
} from "../frame/encoder.ts";
import { resolveMaskKey } from "../frame/mask.ts";
import {
  type Frame,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  type PartialFrame,
  RSV1,
} from "../frame/types.ts";
import { FrameDecoder } from "../frame/decoder.ts";
import {
  decodeUtf8,
  utf8ByteLength,
  Utf8PrefixDecoder,
  Utf8Validator,
} from "../frame/utf8.ts";
import { type FrameAllocator, freshFrames } from "../frame/pool.ts";
import {
  encodeClosePayload,
  fitCloseReason,
  isValidCloseCode,
} from "../frame/close_payload.ts";
import {
  type ProtocolEvent,
  type ProtocolOptions,
  ReadyState,
  type Role,
  type SendOptions,
} from "./types.ts";
import type { Extension } from "./extension.ts";
import { DEFAULTS } from "../defaults.ts";

export {
  encodeClosePayload,
  fitCloseReason,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
} from "../frame/close_payload.ts";

const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();

/**
 * Where a driver takes a {@linkcode Protocol}'s frames as they are encoded
 * (see {@linkcode Protocol.setFrameSink}): small data frames are encoded
 * straight into the sink's buffer, back to back, and every other frame is
 * handed over whole, all in the order they were sent.
 */
export interface FrameSink {
  /**
   * Room for a frame of at most `size` bytes, from
   * {@linkcode FrameSink.reservedAt} in the buffer returned.
   *
   * @param size the most bytes the frame takes
   * @returns the buffer to encode into, or null when the frame is to come
   * through {@linkcode FrameSink.push} instead
   */
  reserve(size: number): Uint8Array | null;
  /** Where the room the last {@linkcode FrameSink.reserve} found starts. */
  readonly reservedAt: number;
  /**
   * The frame encoded in the reserved room ends at `end`.
   *
   * @param end the offset just past the frame, within the room
   */
  commit(end: number): void;
  /**
   * A frame in memory of its own, to send after everything before it. The
   * sink keeps it as given.
   *
   * @param frame the frame's bytes
   */
  push(frame: Uint8Array): void;
}

/** An allocator's methods as plain functions, for the frame encoders. */
interface AllocatorCalls {
  allocate(size: number): Uint8Array;
  trimLast(bytes: Uint8Array, used: number): void;
}

/** One pair of calls per allocator, shared by every protocol that uses it
 * (not two closures per connection). */
const allocatorCallCache = new WeakMap<FrameAllocator, AllocatorCalls>();

function allocatorCalls(frames: FrameAllocator): AllocatorCalls {
  let calls = allocatorCallCache.get(frames);
  if (calls === undefined) {
    calls = {
      allocate: (size) => frames.allocate(size),
      trimLast: (bytes, used) => frames.trimLast(bytes, used),
    };
    allocatorCallCache.set(frames, calls);
  }
  return calls;
}

/**
 * The protocol state of one WebSocket connection after its opening
 * handshake.
 *
 * @example
 * ```ts
 * const protocol = new Protocol({ role: "server" });
 * protocol.push(bytesFromTheClient);
 * // One event at a time: each echo is queued before whatever the next
 * // frame makes the protocol send (a pong, a close frame).
 * for (let event = protocol.nextEvent(); event; event = protocol.nextEvent()) {
 *   if (event.type === "text") protocol.sendText(event.data); // echo
 * }
 * for (const bytes of protocol.takeOutgoing()) await conn.write(bytes);
 * ```
 */
export class Protocol {
  /** Which end of the connection this is. */
  readonly role: Role;
  readonly #maxMessageSize: number;
  readonly #maxFrameSize: number;
  readonly #maxFragments: number;
  readonly #decoder: FrameDecoder;
  /** The frame being handled: one record, refilled for every frame. */
  readonly #frame: Frame = {
    fin: false,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: Opcode.Continuation,
    masked: false,
    payload: EMPTY,
  };
  readonly #mask: boolean;
  /** Owns RSV1; null when no extension was agreed. */
  readonly #extension: Extension | null;
  /** Memory for data frames and pongs (see `ProtocolOptions.frameAllocator`). */
  readonly #allocate: (size: number) => Uint8Array;
  readonly #trimLast: (bytes: Uint8Array, used: number) => void;

  #readyState: ReadyState = ReadyState.OPEN;
  #closeSent = false;
  #closeReceived = false;
  /** Frames queued for sending. */
  readonly #outgoing = new Fifo<Uint8Array>();
  /** Takes the frames as they are encoded, when set. */
  #sink: FrameSink | null = null;
  #outgoingBytes = 0;
  /** A fragmented message is being sent: only its continuations may follow. */
  #sendingFragments = false;
  /** The fragmented message being sent is encoded by the extension. */
  #sendingEncoded = false;

  /** Opcode of the message being reassembled; 0 when none is open. */
  #messageOpcode = 0;
  #messageCompressed = false;
  #messageFragments = 0;
  #messageBuffer: Uint8Array = EMPTY;
  #messageLength = 0;
  /** Validates the uncompressed text message arriving, from its first byte. */
  #utf8: Utf8Validator | null = null;
  /** Bytes of the text frame still arriving whose UTF-8 was checked. */
  #frameBytesChecked = 0;
  /** Decodes an unfragmented text message while its frame arrives. */
  #partialText: Utf8PrefixDecoder | null = null;

  /**
   * Creates the protocol state of a connection whose handshake is done.
   *
   * @param options role, limits and the agreed extension
   */
  constructor(options: ProtocolOptions) {
    this.role = options.role;
    this.#maxMessageSize = options.maxMessageSize ??
      DEFAULTS.socket.maxMessageSize;
    this.#maxFrameSize = Math.min(
      options.maxFrameSize ?? this.#maxMessageSize,
      this.#maxMessageSize,
    );
    this.#maxFragments = options.maxFragments ?? DEFAULTS.socket.maxFragments;
    for (
      const [name, value] of [
        ["maxMessageSize", this.#maxMessageSize],
        ["maxFrameSize", this.#maxFrameSize],
        ["maxFragments", this.#maxFragments],
      ] as const
    ) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`${name} must be a non-negative safe integer`);
      }
    }
    this.#mask = this.role === "client";
    this.#extension = options.extension ?? null;
    const calls = allocatorCalls(options.frameAllocator ?? freshFrames);
    this.#allocate = calls.allocate;
    this.#trimLast = calls.trimLast;
    this.#decoder = new FrameDecoder({
      expectMasked: this.role === "server",
      maxPayloadLength: this.#maxFrameSize,
      allowedReservedBits: this.#extension === null ? 0 : RSV1,
      ownBinaryPayloads: options.ownBinaryMessages ?? false,
    });
  }

  /** The connection state. */
  get readyState(): ReadyState {
    return this.#readyState;
  }

  /** Whether this end has sent (or queued) its close frame. */
  get closeSent(): boolean {
    return this.#closeSent;
  }

  /** Whether the peer's close frame has arrived. */
  get closeReceived(): boolean {
    return this.#closeReceived;
  }

  /** Bytes queued for sending and not yet taken by {@linkcode takeOutgoing}
   * (none once a {@linkcode setFrameSink} took them). */
  get bufferedOutgoing(): number {
    return this.#outgoingBytes;
  }

  /** Bytes the frame being received still needs (the decoder's
   * `frameBytesMissing`): 0 between frames. */
  get frameBytesMissing(): number {
    return this.#decoder.frameBytesMissing;
  }

  /**
   * Processes bytes received from the peer: {@linkcode push} them, then
   * take every {@linkcode nextEvent}. A reply sent after this returns comes
   * after anything the same bytes made the protocol queue (a close frame
   * that fails the connection, for one); to reply to each message before
   * the next frame is read, use `push` and `nextEvent`.
   *
   * @param chunk the bytes; the protocol keeps and may modify them (it
   * unmasks in place), and binary events may be views into them
   * @returns what happened, in order
   */
  receive(chunk: Uint8Array): ProtocolEvent[] {
    const events: ProtocolEvent[] = [];
    this.push(chunk);
    for (let event = this.nextEvent(); event; event = this.nextEvent()) {
      events.push(event);
    }
    return events;
  }

  /**
   * Adds bytes received from the peer, without reading them yet: take what
   * they mean with {@linkcode nextEvent}.
   *
   * @param chunk the bytes; the protocol keeps and may modify them (it
   * unmasks in place), and binary events may be views into them, so the
   * caller may reuse its buffer only once `nextEvent` returned `undefined`
   */
  push(chunk: Uint8Array): void {
    if (this.#readyState === ReadyState.CLOSED) return;
    this.#decoder.push(chunk);
  }

  /**
   * Reads the bytes pushed so far up to the next event. Frames are read one
   * event at a time, so whatever the caller sends in reply to an event
   * (an echo) is queued before anything a later frame makes the protocol
   * send: a frame that breaks a rule fails the connection after the reply,
   * as the peer sent it. A text frame still arriving is checked as it
   * arrives: invalid UTF-8 fails the connection (1007) without waiting for
   * the rest of the frame.
   *
   * @returns the next event, or `undefined` when more bytes are needed or
   * the connection is over (after a "close" or "error" event)
   */
  nextEvent(): ProtocolEvent | undefined {
    if (this.#readyState === ReadyState.CLOSED) return undefined;
    const decoder = this.#decoder;
    const frame = this.#frame;
    try {
      for (;;) {
        if (!decoder.nextInto(frame)) {
          const partial = decoder.partialFrame();
          if (partial !== undefined) this.#checkPartialFrame(partial);
          return undefined;
        }
        const event = this.#handleFrame(frame);
        // The record keeps no payload between frames.
        frame.payload = EMPTY;
        if (event !== undefined) return event;
      }
    } catch (error) {
      frame.payload = EMPTY;
      if (!(error instanceof WebSocketError)) throw error;
      return this.#fail(error);
    }
  }

  /**
   * Queues a text message, compressed by the agreed extension when it
   * reaches the extension's threshold (or `options.compress` says so).
   *
   * @param text the message
   * @param options per-message choices
   * @throws {InvalidStateError} once the close handshake has begun
   * @throws {FragmentSequenceError} while a fragmented message is being sent
   */
  sendText(text: string, options?: SendOptions): void {
    this.#assertCanStartMessage();
    if (this.#encodes(options?.compress, text, null)) {
      this.#queueEncoded(Opcode.Text, textEncoder.encode(text));
      return;
    }
    const sink = this.#sink;
    if (sink !== null) {
      const target = sink.reserve(maxTextFrameLength(text, this.#mask));
      if (target !== null) {
        const maskKey = resolveMaskKey(this.#mask);
        sink.commit(encodeTextFrameAt(target, sink.reservedAt, text, maskKey));
        return;
      }
    }
    this.#queue(
      encodeTextFrame(text, this.#mask, this.#allocate, this.#trimLast),
    );
  }

  /**
   * Queues a binary message, compressed as {@linkcode sendText} says. The
   * bytes are copied (or compressed) at once.
   *
   * @param data the message
   * @param options per-message choices
   * @throws {InvalidStateError} once the close handshake has begun
   * @throws {FragmentSequenceError} while a fragmented message is being sent
   */
  sendBinary(data: Uint8Array, options?: SendOptions): void {
    this.#assertCanStartMessage();
    if (this.#encodes(options?.compress, null, data)) {
      this.#queueEncoded(Opcode.Binary, data);
      return;
    }
    const sink = this.#sink;
    if (sink !== null) {
      const length = data.length;
      const target = sink.reserve(
        frameHeaderLength(length, this.#mask) + length,
      );
      if (target !== null) {
        const maskKey = resolveMaskKey(this.#mask);
        sink.commit(
          encodeFrameAt(target, sink.reservedAt, Opcode.Binary, data, maskKey),
        );
        return;
      }
    }
    this.#queue(
      encodeFrameInto(this.#allocate, Opcode.Binary, data, this.#mask),
    );
  }

  /**
   * Queues one frame of a message sent in fragments: the first with
   * `Opcode.Text` or `Opcode.Binary`, the rest with `Opcode.Continuation`,
   * the last with `fin` true. Until the last, only continuations and control
   * frames may be sent.
   *
   * @param opcode Text, Binary or Continuation
   * @param payload the fragment's bytes (copied, or compressed when the
   * message is)
   * @param fin whether this is the final fragment
   * @param compressed on a first fragment: the whole message is encoded by
   * the agreed extension (deflated, for permessage-deflate), fragment by
   * fragment, and its first frame has RSV1 set
   * @throws {InvalidStateError} once the close handshake has begun
   * @throws {FragmentSequenceError} for a Text or Binary frame while a
   * fragmented message is being sent, a continuation with none being sent,
   * or `compressed` on a continuation
   * @throws {TypeError} for a control or reserved opcode, or `compressed`
   * when no extension that encodes was agreed
   */
  sendFragment(
    opcode: Opcode,
    payload: Uint8Array,
    fin: boolean,
    compressed = false,
  ): void {
    let first = false;
    if (opcode === Opcode.Continuation) {
      this.#assertCanSendData();
      if (!this.#sendingFragments) {
        throw new FragmentSequenceError(
          "UnexpectedContinuation",
          "a continuation frame with no fragmented message to continue",
        );
      }
      if (compressed) {
        throw new FragmentSequenceError(
          "ReservedBitsSet",
          "only a message's first frame is marked compressed",
        );
      }
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      this.#assertCanStartMessage();
      if (compressed) this.#assertCanCompress();
      first = true;
      this.#sendingEncoded = compressed;
    } else {
      throw new TypeError(`opcode ${opcode} does not start or continue data`);
    }
    const encoded = this.#sendingEncoded;
    this.#queue(
      encodeFrameInto(
        this.#allocate,
        opcode,
        encoded ? this.#extension!.encode!(payload, fin) : payload,
        this.#mask,
        fin,
        encoded && first,
      ),
    );
    this.#sendingFragments = !fin;
    if (fin) this.#sendingEncoded = false;
  }

  /**
   * Queues a data frame that was encoded once for many connections (pub/sub
   * fan-out): the same bytes go to every subscriber. Server role only, since
   * every client frame needs its own masking key. The bytes are not copied;
   * they must not change afterwards.
   *
   * @param frame one complete, unmasked text or binary frame from
   * {@linkcode encodeFrame}, with FIN set
   * @throws {InvalidStateError} once the close handshake has begun
   * @throws {FragmentSequenceError} while a fragmented message is being sent
   * @throws {TypeError} on the client role, or for a frame that is not a
   * whole, uncompressed text or binary message
   */
  sendEncodedFrame(frame: Uint8Array): void {
    this.#assertCanStartMessage();
    if (this.#mask) {
      throw new TypeError("a client must mask every frame with a fresh key");
    }
    // FIN set, RSV bits clear, and a Text or Binary opcode.
    const first = frame.length > 0 ? frame[0] : 0;
    if (first !== (0x80 | Opcode.Text) && first !== (0x80 | Opcode.Binary)) {
      throw new TypeError(
        "a pre-encoded frame is a whole, uncompressed text or binary message",
      );
    }
    this.#queue(frame);
  }

  /**
   * Queues a ping.
   *
   * @param data up to 125 bytes the peer echoes in its pong
   */
  ping(data: Uint8Array = EMPTY): void {
    this.#queueControl(Opcode.Ping, data);
  }

  /**
   * Queues an unsolicited pong (a one-way heartbeat). Pongs answering pings
   * are sent automatically.
   *
   * @param data up to 125 bytes
   */
  pong(data: Uint8Array = EMPTY): void {
    this.#queueControl(Opcode.Pong, data);
  }

  /**
   * Starts the close handshake by queueing a close frame, or does nothing if
   * this end already sent one. Without a code the frame is empty and the peer
   * reports 1005.
   *
   * @param code a close code that {@linkcode isValidCloseCode} accepts
   * @param reason at most 123 bytes of UTF-8
   * @throws {RangeError} for an invalid code or a reason that is too long
   */
  close(code?: number, reason = ""): void {
    if (this.#closeSent) return;
    let payload: Uint8Array = EMPTY;
    if (code !== undefined) payload = encodeClosePayload(code, reason);
    else if (reason !== "") {
      throw new RangeError("a close reason needs a close code");
    }
    this.#sendClose(payload);
  }

  /**
   * Takes the bytes queued for sending, oldest first, and empties the queue.
   * With the default `frameAllocator`, each frame is memory of its own.
   *
   * @returns frames to write to the transport in order
   */
  takeOutgoing(): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (
      let frame = this.takeOutgoingFrame();
      frame !== undefined;
      frame = this.takeOutgoingFrame()
    ) {
      frames.push(frame);
    }
    return frames;
  }

  /**
   * Takes the oldest frame queued for sending, as {@linkcode takeOutgoing}
   * takes them all, without allocating an array per call: for a driver
   * that hands each frame on as it takes it.
   *
   * @returns the next frame to write, or `undefined` when none is queued
   */
  takeOutgoingFrame(): Uint8Array | undefined {
    const frame = this.#outgoing.shift();
    if (frame !== undefined) this.#outgoingBytes -= frame.length;
    return frame;
  }

  /**
   * Hands every frame to `sink` from now on, as it is encoded, instead of
   * queueing it for {@linkcode takeOutgoing}; frames already queued go to
   * it first. For a driver that writes what the sink collects (the socket's
   * write queue): a burst of small messages then lies back to back in one
   * buffer, with no buffer or view per frame.
   *
   * @param sink where the frames go
   */
  setFrameSink(sink: FrameSink): void {
    for (
      let frame = this.takeOutgoingFrame();
      frame !== undefined;
      frame = this.takeOutgoingFrame()
    ) {
      sink.push(frame);
    }
    this.#sink = sink;
  }

  /** The event a complete frame makes, if any (a fragment makes none). */
  #handleFrame(frame: Frame): ProtocolEvent | undefined {
    this.#checkFrameStart(frame);
    // Bytes of this frame already validated while it arrived.
    const checked = this.#frameBytesChecked;
    this.#frameBytesChecked = 0;
    let event: ProtocolEvent | undefined;
    switch (frame.opcode) {
      case Opcode.Text:
      case Opcode.Binary:
        if (frame.fin) {
          event = this.#message(frame.opcode, frame.payload, frame.rsv1);
        } else {
          this.#messageOpcode = frame.opcode;
          this.#messageCompressed = frame.rsv1;
          if (frame.opcode === Opcode.Text && !frame.rsv1) {
            this.#utf8 ??= new Utf8Validator();
          }
          this.#appendFragment(frame.payload, checked);
        }
        break;
      case Opcode.Continuation:
        this.#appendFragment(frame.payload, checked);
        if (frame.fin) event = this.#finishMessage();
        break;
      case Opcode.Ping:
        event = { type: "ping", data: frame.payload.slice() };
        if (!this.#closeSent) {
          this.#queue(
            encodeFrameInto(
              this.#allocate,
              Opcode.Pong,
              frame.payload,
              this.#mask,
            ),
          );
        }
        break;
      case Opcode.Pong:
        event = { type: "pong", data: frame.payload.slice() };
        break;
      case Opcode.Close:
        event = this.#receiveClose(frame.payload);
        break;
    }
    this.#updatePayloadLimit();
    return event;
  }

  /**
   * The rules a frame's header breaks in the message sequence (and the
   * fragment count), checked when the header arrives and again when the
   * frame is complete, so that the same rule fails first however the bytes
   * were split.
   */
  #checkFrameStart(frame: Frame): void {
    const opcode = frame.opcode;
    if (frame.rsv1 && (opcode === Opcode.Continuation || opcode >= 0x8)) {
      // RFC 7692 section 6: RSV1 only on the first frame of a data message.
      throw new ProtocolError(
        "ReservedBitsSet",
        "RSV1 is only allowed on the first frame of a compressed message",
      );
    }
    if (opcode === Opcode.Continuation) {
      if (this.#messageOpcode === 0) {
        throw new ProtocolError(
          "UnexpectedContinuation",
          "a continuation frame with no message to continue",
        );
      }
    } else if (opcode < 0x8 && this.#messageOpcode !== 0) {
      throw new ProtocolError(
        "ExpectedContinuation",
        "a new message started before the previous one finished",
      );
    }
    const fragment = opcode === Opcode.Continuation ||
      (opcode < 0x8 && !frame.fin);
    if (fragment && this.#messageFragments >= this.#maxFragments) {
      throw new MessageTooBigError(
        "TooManyFragments",
        `a message may arrive in at most ${this.#maxFragments} frames`,
      );
    }
  }

  /**
   * A frame whose payload is still arriving: its header's sequence rules,
   * and, for uncompressed text, the UTF-8 of the bytes that came since the
   * last look, so invalid text fails (1007) when it arrives.
   */
  #checkPartialFrame(frame: PartialFrame): void {
    this.#checkFrameStart(frame);
    if (frame.rsv1) return; // compressed: checked once inflated
    const text = frame.opcode === Opcode.Text;
    if (
      !text && (frame.opcode !== Opcode.Continuation || this.#utf8 === null)
    ) {
      return; // binary, control, or a binary message's continuation
    }
    // Only text is looked at: a binary payload stays where the decoder
    // gathers it (the payload stage, frame/payload_stage.ts).
    const payload = frame.payload;
    const from = this.#frameBytesChecked;
    if (payload.length === from) return;
    if (text && frame.fin) {
      // A whole message: decoded as it arrives (see Utf8PrefixDecoder).
      this.#partialText ??= new Utf8PrefixDecoder();
      this.#partialText.check(payload);
      this.#frameBytesChecked = payload.length;
      return;
    }
    // A fragment: the message's validator goes on where it stopped.
    const validator = this.#utf8 ??= new Utf8Validator();
    if (!validator.push(payload.subarray(from))) {
      throw new InvalidPayloadError("text message is not valid UTF-8");
    }
    this.#frameBytesChecked = payload.length;
  }

  /**
   * A complete message, decoded by the extension when it arrived compressed
   * (RSV1 gets this far only with an extension; its WebSocketErrors, 1007
   * and 1009, fail the connection in receive()). Text is decoded strictly,
   * so it also fails on a message that ends inside a character.
   */
  #message(
    opcode: number,
    payload: Uint8Array,
    compressed: boolean,
  ): ProtocolEvent {
    if (compressed) {
      payload = this.#extension!.decode(payload, this.#maxMessageSize);
    }
    if (opcode === Opcode.Text) {
      const partial = this.#partialText;
      if (partial !== null) {
        // Decoded in part while it arrived.
        this.#partialText = null;
        return { type: "text", data: partial.finish(payload) };
      }
      return { type: "text", data: decodeUtf8(payload) };
    }
    // No copy: allocating a buffer per message costs more than decoding it.
    // The caller copies if it reuses the chunk (see ProtocolEvent).
    return { type: "binary", data: payload };
  }

  /** Adds a fragment (its count was checked with its header); its first
   * `checked` bytes were validated already. */
  #appendFragment(payload: Uint8Array, checked: number): void {
    this.#messageFragments++;
    if (
      this.#utf8 !== null && !this.#utf8.push(payload.subarray(checked))
    ) {
      throw new InvalidPayloadError("text message is not valid UTF-8");
    }
    const needed = this.#messageLength + payload.length;
    if (needed > this.#messageBuffer.length) {
      // Grow geometrically, never past the message limit.
      let capacity = Math.max(this.#messageBuffer.length * 2, 1024);
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(Math.min(capacity, this.#maxMessageSize));
      grown.set(this.#messageBuffer.subarray(0, this.#messageLength));
      this.#messageBuffer = grown;
    }
    this.#messageBuffer.set(payload, this.#messageLength);
    this.#messageLength = needed;
  }

  #finishMessage(): ProtocolEvent {
    const opcode = this.#messageOpcode;
    const compressed = this.#messageCompressed;
    const bytes = this.#messageBuffer.subarray(0, this.#messageLength);
    // The buffer is dropped here, so a binary view of it is the caller's.
    this.#resetMessage();
    return this.#message(opcode, bytes, compressed);
  }

  /** Keeps the decoder's limit at what the current message may still grow by. */
  #updatePayloadLimit(): void {
    const remaining = this.#maxMessageSize - this.#messageLength;
    const decoder = this.#decoder;
    if (remaining < this.#maxFrameSize) {
      decoder.maxPayloadLength = remaining;
      decoder.limitRule = "MessageTooLarge";
    } else {
      decoder.maxPayloadLength = this.#maxFrameSize;
      decoder.limitRule = "FrameTooLarge";
    }
  }

  #receiveClose(payload: Uint8Array): ProtocolEvent {
    let code: number = CloseCode.NoStatusReceived;
    let reason = "";
    if (payload.length === 1) {
      throw new ProtocolError(
        "CloseFrameTooShort",
        "a close payload must be empty or hold a 2-byte code",
      );
    }
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      if (!isValidCloseCode(code)) {
        throw new ProtocolError(
          "InvalidCloseCode",
          `close code ${code} is not allowed on the wire`,
        );
      }
      reason = decodeUtf8(payload.subarray(2));
    }
    this.#closeReceived = true;
    if (!this.#closeSent) {
      // Echo the peer's code and reason (section 5.5.1, as Deno and ws do);
      // an empty close gets an empty echo.
      this.#sendClose(
        payload.length === 0 ? EMPTY : encodeClosePayload(code, reason),
      );
    }
    this.#readyState = ReadyState.CLOSED;
    this.#resetMessage();
    return { type: "close", code, reason };
  }

  #fail(error: WebSocketError): ProtocolEvent {
    if (!this.#closeSent) {
      this.#sendClose(
        encodeClosePayload(error.closeCode, fitCloseReason(error.message)),
      );
    }
    this.#readyState = ReadyState.CLOSED;
    this.#resetMessage();
    return { type: "error", error };
  }

  /** Forgets the message being reassembled, if any. */
  #resetMessage(): void {
    this.#messageOpcode = 0;
    this.#messageCompressed = false;
    this.#messageFragments = 0;
    this.#messageBuffer = EMPTY;
    this.#messageLength = 0;
    this.#utf8 = null;
    this.#frameBytesChecked = 0;
    this.#partialText = null;
  }

  #sendClose(payload: Uint8Array): void {
    this.#queue(encodeFrame(Opcode.Close, payload, { mask: this.#mask }));
    this.#closeSent = true;
    if (this.#readyState === ReadyState.OPEN) {
      this.#readyState = ReadyState.CLOSING;
    }
  }

  #queueControl(opcode: Opcode, data: Uint8Array): void {
    if (this.#closeSent) {
      throw new InvalidStateError("the close handshake has begun");
    }
    if (data.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError("a control frame payload is at most 125 bytes");
    }
    this.#queue(encodeFrame(opcode, data, { mask: this.#mask }));
  }

  #assertCanCompress(): void {
    if (this.#extension?.encode === undefined) {
      throw new TypeError("no extension that encodes was agreed to set RSV1");
    }
  }

  /**
   * Whether a message is encoded by the extension: as `compress` says, or
   * else when it reaches the threshold (text measured only when needed).
   */
  #encodes(
    compress: boolean | undefined,
    text: string | null,
    bytes: Uint8Array | null,
  ): boolean {
    const extension = this.#extension;
    if (compress === false || extension?.encode === undefined) return false;
    if (compress === true) return true;
    const threshold = extension.threshold;
    if (threshold === undefined) return false;
    if (bytes !== null) return bytes.length >= threshold;
    // UTF-8 takes at least one byte and at most three per UTF-16 unit.
    if (text!.length >= threshold) return true;
    if (text!.length * 3 < threshold) return false;
    return utf8ByteLength(text!) >= threshold;
  }

  /** Queues a whole message encoded by the extension, in one frame. */
  #queueEncoded(opcode: Opcode, message: Uint8Array): void {
    this.#queue(
      encodeFrameInto(
        this.#allocate,
        opcode,
        this.#extension!.encode!(message, true),
        this.#mask,
        true,
        true,
      ),
    );
  }

  #assertCanSendData(): void {
    if (this.#closeSent || this.#readyState !== ReadyState.OPEN) {
      throw new InvalidStateError(
        "cannot send data: the close handshake has begun",
      );
    }
  }

  #assertCanStartMessage(): void {
    this.#assertCanSendData();
    if (this.#sendingFragments) {
      throw new FragmentSequenceError(
        "ExpectedContinuation",
        "a fragmented message is being sent: its continuations come first",
      );
    }
  }

  #queue(frame: Uint8Array): void {
    const sink = this.#sink;
    if (sink !== null) {
      sink.push(frame);
      return;
    }
    this.#outgoing.push(frame);
    this.#outgoingBytes += frame.length;
  }
}
