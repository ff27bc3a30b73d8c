/**
 * The connection state machine behind a `WebSocketConnection`: it drives
 * the sans-I/O {@linkcode Protocol} (with permessage-deflate as its
 * extension, when agreed) over a {@linkcode ByteConn}, reads
 * with flow control (`reader.ts`, `flow.ts`), writes with backpressure
 * (`outbound.ts`), runs the close handshake (`close_handshake.ts`) and the
 * keepalive timers (`keepalive.ts`). The public class in `websocket.ts` is
 * the browser-like API over it; events go out through
 * {@linkcode SocketEngineHooks.emit}.
 *
 * @module
 */

import { Protocol } from "../protocol/protocol.ts";
import { PerMessageDeflate } from "../deflate/extension.ts";
import {
  type ProtocolEvent,
  ReadyState,
  type Role,
} from "../protocol/types.ts";
import { CloseCode } from "../errors.ts";
import { Outbound, type OutboundHooks } from "./outbound.ts";
import { SocketReader, type SocketReaderHooks } from "./reader.ts";
import { ReadFlow, type ReadFlowSources } from "./flow.ts";
import { type IteratedMessage, MessageBuffer } from "./message_buffer.ts";
import { Keepalive, type KeepaliveHooks } from "./keepalive.ts";
import {
  abnormalEnding,
  CloseHandshake,
  type Ending,
} from "./close_handshake.ts";
import type { SendItem } from "./send_queue.ts";
import {
  createCloseEvent,
  createErrorEvent,
  createMessageEvent,
  messageEventData,
  ownedBytes,
} from "./events.ts";
import {
  type BinaryType,
  type NegotiatedConnection,
  type NegotiatedDeflate,
  type ResolvedWebSocketOptions,
  resolveWebSocketOptions,
  type WebSocketOptions,
} from "./options.ts";
import { type ByteConn, isPoolSafe } from "./transport.ts";
import { TokenBucket } from "./rate_limit.ts";
import {
  type FrameAllocator,
  freshFrames,
  pooledFrames,
} from "../frame/pool.ts";

/** What a socket reports before it is attached (one for all sockets). */
const NOT_NEGOTIATED: NegotiatedConnection = Object.freeze({
  protocol: "",
  extensions: "",
});

/** What a {@linkcode SocketEngine} needs from the socket it runs. */
export interface SocketEngineHooks {
  /** Dispatches an event on the socket. */
  emit(event: Event): void;
  /** The socket's current `binaryType`. */
  binaryType(): BinaryType;
  /** Whether "message" listeners (or `onmessage`) exist. */
  listensForMessages(): boolean;
  /** The socket is closed, just before its "error"/"close" events. */
  closed(): void;
}

/** Told once an attached socket's connection is closed (after "close"). */
export interface AttachedConnectionHook {
  /** The connection is closed and "close" was dispatched. */
  connectionClosed(): void;
}

/** The state of one socket and its connection. */
export class SocketEngine
  implements OutboundHooks, KeepaliveHooks, ReadFlowSources, SocketReaderHooks {
  readonly #role: Role;
  readonly #options: ResolvedWebSocketOptions;
  readonly #hooks: SocketEngineHooks;
  readonly #keepalive: Keepalive;
  /** Sends, framing and writes; it gets the protocol at attach. */
  readonly #outbound: Outbound;
  readonly #closing: CloseHandshake;
  /** The `maxMessagesPerSecond` bucket; null when there is no limit. */
  readonly #messageRate: TokenBucket | null;
  /**
   * The socket's lifecycle, as `WebSocket.readyState` reports it:
   * CONNECTING until a connection is attached, CLOSING from `close()`, the
   * peer's close frame or a failure, CLOSED once the transport is closed. The
   * protocol has a state of its own, for the wire: it exists only after
   * the handshake (so it starts OPEN) and is CLOSED as soon as both close
   * frames were exchanged or the peer broke a rule, while the socket may
   * still be writing its last bytes, lingering, or waiting for the
   * transport to close.
   */
  #readyState: ReadyState = ReadyState.CONNECTING;
  /** The wire protocol: created once at attach, when the handshake's
   * outcome (extensions) is known. */
  #protocol: Protocol | null = null;
  /** What the handshake agreed: set when the connection is attached. */
  #negotiated: NegotiatedConnection = NOT_NEGOTIATED;
  /** `origin` of "message" events: the URL's origin, "" without a URL. */
  #origin = "";
  #reader: SocketReader | null = null;
  /** close() called while CONNECTING: sent once the connection opens. */
  #closeOnOpen: { code: number | undefined; reason: string } | null = null;
  #messages: MessageBuffer | null = null;
  /** Told once the connection is closed; null until attached. */
  #onConnectionClosed: AttachedConnectionHook | null = null;
  /** When reading pauses (see `flow.ts`). */
  readonly #flow: ReadFlow;
  /** Closing for a server shutdown: messages the peer sent before its
   * close frame are still delivered. */
  #deliverUntilPeerCloses = false;

  /**
   * @param role "server" or "client"
   * @param options limits and timers
   * @param hooks the socket's side
   * @throws {RangeError} when an option is invalid
   */
  constructor(
    role: Role,
    options: WebSocketOptions | undefined,
    hooks: SocketEngineHooks,
  ) {
    this.#role = role;
    this.#hooks = hooks;
    this.#closing = new CloseHandshake(role);
    const resolved = resolveWebSocketOptions(options);
    this.#options = resolved;
    this.#messageRate = resolved.maxMessagesPerSecond > 0
      ? new TokenBucket(resolved.maxMessagesPerSecond)
      : null;
    this.#outbound = new Outbound(resolved.maxQueuedBytes, this);
    this.#keepalive = new Keepalive(
      resolved.pingInterval,
      resolved.silenceTimeout,
      this,
    );
    this.#flow = new ReadFlow(
      role,
      resolved.maxQueuedBytes,
      this.#outbound,
      this,
    );
  }

  // The hooks of the parts, as methods (no closures per socket). Internal.

  /** Outbound: reading a Blob failed. */
  sendFailed(error: unknown, reason: string): void {
    this.#fail(CloseCode.InternalError, reason, error);
  }
  /** Outbound: a write failed. */
  writeFailed(error: unknown): void {
    this.#onTransportError(error);
  }
  /** Outbound: the writer went idle. */
  outboundIdle(): void {
    this.#maybeFinish();
  }
  /** Keepalive: send a ping now. */
  keepalivePing(): void {
    this.#flow.pinged();
    const protocol = this.#protocol;
    if (protocol === null || protocol.closeSent) return;
    protocol.ping();
    this.#outbound.flush();
  }
  /** Keepalive: the peer did not answer. */
  keepaliveDrop(error: Error): void {
    this.#finish(abnormalEnding(error));
  }
  /** Keepalive: nothing arrived for the silence timeout. */
  keepaliveSilent(): void {
    this.#beginClose(CloseCode.GoingAway, "silence timeout");
  }
  /** Keepalive: whether silence is excused. */
  keepalivePaused(): boolean {
    return this.#flow.silenceExcused();
  }
  /** ReadFlow: the iterator's buffer. */
  flowMessages(): MessageBuffer | null {
    return this.#messages;
  }
  /** ReadFlow: whether messages are delivered. */
  flowDelivers(): boolean {
    return this.#delivers();
  }
  /** SocketReader: bytes arrived. */
  readerData(chunk: Uint8Array): void {
    this.#receive(chunk);
  }
  /** SocketReader: the peer ended its side. */
  readerEnd(): void {
    this.#onEndOfStream();
  }
  /** SocketReader: a read failed. */
  readerError(error: unknown): void {
    this.#onTransportError(error);
  }
  /** SocketReader: what to wait for before the next read. */
  readerPause(): Promise<void> | null {
    return this.#flow.pause();
  }
  /** SocketReader: whether the socket is closed. */
  readerClosed(): boolean {
    return this.#isClosed();
  }
  /** SocketReader: bytes the frame being received still needs. */
  readerFrameBytesMissing(): number {
    return this.#protocol?.frameBytesMissing ?? 0;
  }

  /** The socket's lifecycle state (see the field's comment). */
  get readyState(): ReadyState {
    return this.#readyState;
  }

  /** The subprotocol, extensions and URL (url always set) once attached. */
  get negotiated(): NegotiatedConnection {
    return this.#negotiated;
  }

  /** See `WebSocketConnection.bufferedAmount`. */
  get bufferedAmount(): number {
    return this.#outbound.bufferedAmount;
  }

  /**
   * Queues a message, or counts it as discarded once closing began.
   *
   * @param item the message (not while CONNECTING)
   */
  send(item: SendItem): void {
    if (this.#readyState !== ReadyState.OPEN) this.#outbound.discard(item);
    else this.#enqueue(item);
  }

  /**
   * Queues a pre-encoded frame like a send.
   *
   * @param frame the frame
   * @returns whether it was queued and the socket is still OPEN
   */
  queueEncoded(frame: Uint8Array): boolean {
    if (this.#readyState !== ReadyState.OPEN) return false;
    this.#enqueue({ kind: "encoded", data: frame });
    return this.#readyState === ReadyState.OPEN;
  }

  /**
   * Starts the close handshake (or schedules it while CONNECTING).
   *
   * @param code checked by the caller
   * @param reason checked by the caller
   */
  close(code: number | undefined, reason: string): void {
    if (this.#readyState === ReadyState.CONNECTING) {
      this.#readyState = ReadyState.CLOSING;
      this.#closeOnOpen = { code, reason };
    } else if (this.#readyState === ReadyState.OPEN) {
      this.#beginClose(code, reason);
    }
  }

  /**
   * Closes for a server shutdown: like {@linkcode close}, but messages that
   * arrive before the peer's close frame are still delivered (the peer sent
   * them before it knew).
   *
   * @param code the close code
   * @param reason the close reason
   */
  closeForShutdown(code: number, reason: string): void {
    if (this.#readyState === ReadyState.OPEN) {
      this.#deliverUntilPeerCloses = true;
    }
    this.close(code, reason);
  }

  /**
   * Sends a ping unless closing began.
   *
   * @param data at most 125 bytes
   * @throws {RangeError} for a longer payload
   */
  ping(data: Uint8Array): void {
    const protocol = this.#protocol;
    if (
      this.#readyState !== ReadyState.OPEN || protocol === null ||
      protocol.closeSent
    ) {
      return;
    }
    protocol.ping(data);
    this.#outbound.flush();
  }

  /**
   * See `WebSocketConnection.drained`.
   *
   * @returns a promise that never rejects
   */
  drained(): Promise<void> {
    if (this.#readyState === ReadyState.CLOSED) return Promise.resolve();
    return this.#outbound.drained();
  }

  /**
   * See `WebSocketConnection[Symbol.asyncIterator]`.
   *
   * @returns the iterator
   * @throws {TypeError} when another iteration is running
   */
  iterate(): AsyncIterableIterator<IteratedMessage> {
    if (this.#messages !== null) {
      throw new TypeError("the socket is already being iterated");
    }
    const messages = new MessageBuffer(() => this.#hooks.listensForMessages());
    if (this.#readyState === ReadyState.CLOSED) messages.end();
    else this.#messages = messages;
    return messages.iterate(() => {
      if (this.#messages === messages) this.#messages = null;
    });
  }

  /**
   * Fails a socket whose connection never came: see `abortPendingSocket`.
   *
   * @param reason the error event's message
   */
  abort(reason: string): void {
    if (this.#reader !== null) return;
    this.#finish(abnormalEnding(new Error(reason)));
  }

  /**
   * Opens the socket over `conn`: see `attachConnectionWith`.
   *
   * @param conn the connection
   * @param leftover bytes read past the handshake
   * @param negotiated what the handshake agreed
   * @param onClosed told once the connection is closed
   */
  attach(
    conn: ByteConn,
    leftover: Uint8Array,
    negotiated: NegotiatedConnection,
    onClosed: AttachedConnectionHook,
  ): void {
    if (this.#reader !== null || this.#readyState === ReadyState.CLOSED) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      onClosed.connectionClosed();
      return;
    }
    // First, as it may throw: the socket and conn stay untouched.
    const extension = this.#newExtension(negotiated.perMessageDeflate);
    // Reused frame memory would reach a transport that may still refer to
    // the bytes of a settled write, unless the transport is known not to.
    const frames = isPoolSafe(conn) ? pooledFrames : freshFrames;
    this.#protocol = this.#newProtocol(extension, frames);
    this.#onConnectionClosed = onClosed;
    this.#reader = new SocketReader(conn, this.#options.readBufferSize, this);
    this.#negotiated = {
      protocol: negotiated.protocol,
      extensions: negotiated.extensions,
      url: negotiated.url ?? "",
    };
    this.#origin = originOf(this.#negotiated.url ?? "");
    this.#outbound.attach(conn, this.#protocol, frames);
    if (this.#closeOnOpen !== null) {
      this.#beginClose(this.#closeOnOpen.code, this.#closeOnOpen.reason);
      this.#closeOnOpen = null;
    } else {
      this.#readyState = ReadyState.OPEN;
      this.#keepalive.start();
      this.#hooks.emit(new Event("open"));
    }
    // The "open" listeners may have closed the socket.
    if (leftover.length > 0 && !this.#isClosed()) this.#receive(leftover);
    if (!this.#isClosed()) this.#reader.start();
  }

  /** A method, so that TypeScript does not narrow the state across calls. */
  #isClosed(): boolean {
    return this.#readyState === ReadyState.CLOSED;
  }

  /** permessage-deflate as agreed, or undefined. */
  #newExtension(
    deflate: NegotiatedDeflate | undefined,
  ): PerMessageDeflate | undefined {
    if (deflate === undefined) return undefined;
    return new PerMessageDeflate({
      params: deflate.params,
      role: this.#role,
      compressors: deflate.compressors,
      threshold: deflate.threshold,
    });
  }

  /** A protocol with the socket's limits and the agreed extension. */
  #newProtocol(
    extension: PerMessageDeflate | undefined,
    frames: FrameAllocator,
  ): Protocol {
    const options = this.#options;
    return new Protocol({
      role: this.#role,
      maxMessageSize: options.maxMessageSize,
      maxFrameSize: options.maxFrameSize,
      maxFragments: options.maxFragments,
      extension,
      frameAllocator: frames,
      // Every binary message is copied for its event (or the iterator).
      ownBinaryMessages: true,
    });
  }

  /** Queues in call order; fails the socket with 1008 past maxQueuedBytes. */
  #enqueue(item: SendItem): void {
    if (!this.#outbound.send(item)) this.#failQueueFull("messages");
  }

  /** More than maxQueuedBytes wait to be written: fail with 1008. */
  #failQueueFull(what: string): void {
    const error = new Error(
      `more than ${this.#options.maxQueuedBytes} bytes (${what}) wait to be written: the peer reads slower than this side sends; await socket.drained() between sends, or raise maxQueuedBytes`,
    );
    // The queue is the problem: what waits in it is dropped.
    this.#fail(CloseCode.PolicyViolation, "send queue full", error, true);
  }

  #receive(chunk: Uint8Array): void {
    this.#keepalive.received();
    const outbound = this.#outbound;
    const queuedBefore = outbound.queuedBytes;
    const protocol = this.#protocol;
    if (protocol === null) return;
    protocol.push(chunk);
    // The replies to this chunk's messages are written together once it
    // is read, with no microtask scheduled per reply.
    outbound.hold();
    try {
      if (!this.#readEvents(protocol)) return;
    } finally {
      outbound.release();
    }
    // Pongs count against the cap like sends; a close echo ends the
    // connection anyway (nothing is read after it).
    if (
      queuedBefore > 0 && outbound.queuedBytes > this.#options.maxQueuedBytes &&
      this.#readyState === ReadyState.OPEN && !protocol.closeSent
    ) {
      this.#failQueueFull("pongs to pings");
    }
    this.#maybeFinish();
  }

  /**
   * One event at a time: what a listener sends in reply is framed before
   * the protocol reads on, so it goes out ahead of a close frame that a
   * later frame of the same chunk makes the protocol send. The whole
   * chunk is read (the reader reuses its buffer), but once the socket
   * failed the connection itself (a send past maxQueuedBytes) nothing
   * more is delivered.
   *
   * @returns false when the protocol threw (the connection is closed)
   */
  #readEvents(protocol: Protocol): boolean {
    while (!this.#isClosed()) {
      let event: ProtocolEvent | undefined;
      try {
        event = protocol.nextEvent();
      } catch (error) {
        this.#onTransportError(error);
        return false;
      }
      if (event === undefined) break;
      if (!this.#closing.hasFailed) this.#handleEvent(event);
    }
    return true;
  }

  #handleEvent(event: ProtocolEvent): void {
    switch (event.type) {
      case "text":
      case "binary": {
        if (!this.#delivers()) return;
        if (this.#messageRate !== null && !this.#messageRate.take()) {
          this.#fail(
            CloseCode.PolicyViolation,
            "message rate limit",
            new Error(
              `the peer sent more than ${this.#options.maxMessagesPerSecond} messages per second (maxMessagesPerSecond)`,
            ),
          );
          return;
        }
        // Binary bytes may be a view into the reused read buffer: the event
        // data (ArrayBuffer or Blob) is a copy, and so is what waits for
        // the async iterator (one copy serves both).
        const data = event.type === "binary" && this.#messages !== null
          ? ownedBytes(event.data)
          : event.data;
        if (this.#hooks.listensForMessages()) {
          this.#hooks.emit(
            createMessageEvent(
              messageEventData(data, this.#hooks.binaryType()),
              this.#origin,
            ),
          );
        }
        this.#messages?.push(data);
        return;
      }
      case "ping":
      case "pong":
        this.#hooks.emit(new MessageEvent(event.type, { data: event.data }));
        return;
      case "close":
        this.#closing.peerClosed(event.code, event.reason);
        return this.#enterClosing();
      case "error":
        this.#closing.failed(
          event.error.closeCode,
          event.error.message,
          event.error,
        );
        return this.#enterClosing();
    }
  }

  /**
   * Whether a message that arrives now is handed to the application: while
   * OPEN, and while closing for a shutdown until the peer's close frame.
   * Messages that arrive after `close()` are dropped (as the WHATWG spec
   * says), and so is everything once the connection failed.
   */
  #delivers(): boolean {
    return this.#readyState === ReadyState.OPEN ||
      (this.#readyState === ReadyState.CLOSING && this.#deliverUntilPeerCloses);
  }

  /** close() or the idle timer: send our close frame, then wait for the peer's. */
  #beginClose(code: number | undefined, reason: string): void {
    this.#readyState = ReadyState.CLOSING;
    this.#keepalive.stop();
    this.#outbound.close(code, reason);
    this.#startCloseTimer();
    this.#messages?.wake();
  }

  /** The peer closed or broke the protocol: nothing more can be sent. */
  #enterClosing(): void {
    this.#readyState = ReadyState.CLOSING;
    this.#deliverUntilPeerCloses = false;
    this.#keepalive.stop();
    this.#outbound.dropPending();
    this.#startCloseTimer();
    this.#messages?.wake();
  }

  #startCloseTimer(): void {
    this.#closing.startTimer(
      this.#options.closeTimeout,
      (error) => this.#onTransportError(error),
    );
  }

  /** Fails the connection from this side: drop the queue, send close, hang up. */
  #fail(
    code: number,
    reason: string,
    error: unknown,
    dropQueued = false,
  ): void {
    if (this.#readyState === ReadyState.CLOSED) return;
    this.#closing.failed(code, reason, error);
    this.#enterClosing();
    if (dropQueued) this.#outbound.dropUnwritten();
    this.#protocol?.close(code, reason);
    this.#outbound.flush();
    this.#maybeFinish();
  }

  /**
   * Ends the connection once the close handshake allows it. A connection
   * this side failed lingers (see `DEFAULTS.limits.lingerTimeout`): its close frame is
   * written, but the peer may still be sending.
   */
  #maybeFinish(): void {
    if (this.#readyState === ReadyState.CLOSED || !this.#outbound.flushed) {
      return;
    }
    const ending = this.#closing.whenFlushed();
    if (ending !== null) this.#finish(ending, !ending.wasClean);
  }

  #onEndOfStream(): void {
    const ending = this.#closing.endOfStream();
    if (ending !== null) this.#finish(ending);
    else this.#maybeFinish();
  }

  /** A read or write failed, or the close timeout passed: end now. */
  #onTransportError(error: unknown): void {
    if (this.#readyState !== ReadyState.CLOSED) {
      this.#finish(this.#closing.broken(error));
    }
  }

  #finish(ending: Ending, linger = false): void {
    if (this.#readyState === ReadyState.CLOSED) return;
    this.#readyState = ReadyState.CLOSED;
    this.#hooks.closed();
    this.#closing.stopTimer();
    this.#keepalive.stop();
    this.#outbound.closeAll();
    const connClosed = this.#reader?.finish(linger);
    if (!ending.wasClean) this.#hooks.emit(createErrorEvent(ending.error));
    this.#hooks.emit(createCloseEvent(ending));
    this.#messages?.end();
    this.#messages = null;
    // The attach hook waits for a lingering connection to close.
    const onClosed = this.#onConnectionClosed;
    if (onClosed !== null && connClosed !== undefined) {
      void connClosed.then(() => onClosed.connectionClosed());
    }
  }
}

/**
 * The origin a "message" event reports, as the WHATWG WebSocket standard
 * sets it: the serialized origin of the socket's URL ("ws://host:port"),
 * or "" for a server-side socket, which has no URL.
 */
function originOf(url: string): string {
  if (url === "") return "";
  try {
    return new URL(url).origin;
  } catch {
    return "";
  }
}
