/**
 * A socket that behaves like the WHATWG `WebSocket` of a browser (and the
 * one `Deno.upgradeWebSocket` returns), running over any byte stream with
 * `read`, `write` and `close`. It uses no runtime-specific API: the server
 * (later the client) hands it a connection; it drives the sans-I/O
 * {@linkcode Protocol}, writes with backpressure, runs the close handshake
 * with a timeout and keeps the connection alive with pings.
 *
 * Beyond the browser API: {@linkcode WebSocketConnection.drained},
 * `for await (const message of socket)`, "ping"/"pong" events, a send-queue
 * cap and ping/idle/close timers (see {@linkcode WebSocketOptions}), and
 * permessage-deflate (RFC 7692) when the handshake agreed it (see
 * {@linkcode NegotiatedConnection.perMessageDeflate}).
 *
 * @module
 */

import { Protocol, type ProtocolEvent, type Role } from "./protocol.ts";
import { CloseCode } from "./errors.ts";
import { WriteQueue } from "./write_queue.ts";
import {
  type InboundEvent,
  inboundFailureCode,
  InboundQueue,
} from "./inbound_queue.ts";
import { type IteratedMessage, MessageBuffer } from "./message_buffer.ts";
import { Keepalive } from "./keepalive.ts";
import {
  abnormalEnding,
  CloseHandshake,
  type Ending,
} from "./close_handshake.ts";
import {
  type OutgoingMessage,
  type SendItem,
  sendItemSize,
  SendQueue,
  toSendItem,
} from "./send_queue.ts";
import { WebSocketEventTarget } from "./websocket_base.ts";
import type { PublishData, TopicRegistry } from "./pubsub.ts";
import {
  checkCloseArguments,
  createCloseEvent,
  createErrorEvent,
  domException,
  fitCloseReason,
  messageEventData,
} from "./websocket_events.ts";
import {
  type BinaryType,
  type ByteConn,
  type NegotiatedConnection,
  type NegotiatedDeflate,
  type ResolvedWebSocketOptions,
  resolveWebSocketOptions,
  type WebSocketOptions,
  type WebSocketSendData,
} from "./websocket_options.ts";

export type { IteratedMessage } from "./message_buffer.ts";
export type { Role } from "./protocol.ts";
export {
  type WebSocketEventHandler,
  type WebSocketEventMap,
  WebSocketEventTarget,
} from "./websocket_base.ts";
export type {
  BinaryType,
  ByteConn,
  NegotiatedConnection,
  NegotiatedDeflate,
  WebSocketOptions,
  WebSocketSendData,
} from "./websocket_options.ts";

const textEncoder = new TextEncoder();

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

let attach: (
  socket: WebSocketConnection,
  conn: ByteConn,
  leftover: Uint8Array,
  negotiated: NegotiatedConnection,
) => Promise<void>;
let abort: (socket: WebSocketConnection, reason: string) => void;
let queueEncoded: (socket: WebSocketConnection, frame: Uint8Array) => boolean;

/**
 * A WHATWG-`WebSocket`-like socket (an `EventTarget`). Created in CONNECTING
 * state by {@linkcode createPendingSocket} (the server's `upgradeWebSocket`
 * does this); it opens when the server attaches the connection.
 *
 * Where it differs from a browser's `WebSocket` (additions aside): `url` is
 * "" on the server side, as in Deno; `binaryType` defaults to "arraybuffer"
 * on the server side (as Deno's server sockets) and "blob" on the client
 * side (as browsers); on the server side `close()` accepts every code that
 * may be sent (1000-1003, 1007-1014, 3000-4999), not only 1000 and
 * 3000-4999; `bufferedAmount` counts frame headers too (and, while a
 * message waits to be compressed, its uncompressed size); messages that
 * arrive after `close()` was called are dropped, as the WHATWG spec says.
 *
 * @example
 * ```ts
 * socket.onmessage = (event) => socket.send(event.data);
 * socket.onclose = (event) => console.log("closed", event.code);
 * ```
 */
export class WebSocketConnection extends WebSocketEventTarget
  implements AsyncIterable<IteratedMessage> {
  readonly #role: Role;
  readonly #options: ResolvedWebSocketOptions;
  /** Replaced once at attach when permessage-deflate was agreed. */
  #protocol: Protocol;
  readonly #keepalive: Keepalive;
  readonly #sends: SendQueue;
  /** Received events in order, compressed messages inflated first. */
  readonly #inbound: InboundQueue;
  #readyState = CONNECTING;
  #subprotocol = "";
  #extensions = "";
  #url = "";
  #binaryType: BinaryType;
  #conn: ByteConn | null = null;
  #writer: WriteQueue | null = null;
  /** Bytes of sends dropped after closing began or never written. */
  #discardedBytes = 0;
  /** close() called while CONNECTING: sent once the connection opens. */
  #closeOnOpen: { code: number | undefined; reason: string } | null = null;
  readonly #closing: CloseHandshake;
  #messages: MessageBuffer | null = null;
  #drainWaiters: Array<() => void> = [];
  #settle: (() => void) | null = null;
  /** The server's pub/sub topics; null for a socket without a server. */
  readonly #topics: TopicRegistry | null;

  /**
   * Use {@linkcode createPendingSocket}, or the server's `upgradeWebSocket`.
   *
   * @param role "server" or "client"
   * @param options limits and timers
   * @param topics the server's pub/sub registry (see `pubsub.ts`)
   * @throws {RangeError} when an option is invalid
   */
  constructor(
    role: Role,
    options?: WebSocketOptions,
    topics?: TopicRegistry,
  ) {
    super();
    this.#role = role;
    this.#topics = topics ?? null;
    this.#closing = new CloseHandshake(role);
    const resolved = resolveWebSocketOptions(options);
    this.#options = resolved;
    this.#protocol = new Protocol({
      role,
      maxMessageSize: resolved.maxMessageSize,
    });
    this.#binaryType = role === "server" ? "arraybuffer" : "blob";
    this.#keepalive = new Keepalive(
      resolved.pingInterval,
      resolved.idleTimeout,
      {
        ping: () => {
          // The peer's close may be queued behind a message being inflated.
          if (this.#protocol.closeSent) return;
          this.#protocol.ping();
          this.#flush();
        },
        drop: (error) => this.#finish(abnormalEnding(error)),
        idle: () => this.#beginClose(CloseCode.GoingAway, "idle timeout"),
        paused: () => this.#inbound.busy || (this.#messages?.full ?? false),
      },
    );
    this.#sends = new SendQueue({
      deliver: (message) => this.#sendNow(message),
      onError: (error, reason) =>
        this.#fail(CloseCode.InternalError, reason, error),
      onEmpty: () => this.#onWriterIdle(),
    });
    this.#inbound = new InboundQueue(resolved.maxMessageSize, {
      deliver: (event) => this.#handleEvent(event),
      wanted: () => this.#readyState === OPEN,
      onError: (error) => this.#failInbound(error),
      onIdle: () => {
        this.#flush();
        this.#maybeFinish();
      },
    });
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): number {
    return this.#readyState;
  }

  /** The subprotocol selected in the handshake, or "". */
  get protocol(): string {
    return this.#subprotocol;
  }

  /** The extensions accepted in the handshake, or "". */
  get extensions(): string {
    return this.#extensions;
  }

  /** The URL of the connection: "" on the server side unless the server sets one. */
  get url(): string {
    return this.#url;
  }

  /** How binary messages appear in "message" events; other values are ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
  }

  /**
   * Bytes passed to `send` (plus frame headers) not yet written to the
   * connection. As in browsers, data sent once closing began is counted and
   * never sent, so the value does not go back to 0 after that.
   */
  get bufferedAmount(): number {
    return this.#queuedBytes() + this.#discardedBytes;
  }

  /**
   * Sends a message: a string as text, anything binary as a binary message.
   * Messages go out in call order; a Blob is read first and later sends wait
   * behind it. Binary data is captured at call time.
   *
   * @param data the message
   * @throws {DOMException} "InvalidStateError" while CONNECTING. Once closing
   * began the data is discarded silently and added to `bufferedAmount`; so
   * is data sent from a "message" handler when the peer's close frame came
   * in the same read as that message (its echo already went out; the
   * "close" event follows).
   */
  send(data: WebSocketSendData): void {
    if (this.#readyState === CONNECTING) {
      throw domException("the socket is not open yet", "InvalidStateError");
    }
    const item = toSendItem(data);
    if (this.#readyState !== OPEN) {
      this.#discardedBytes += sendItemSize(item);
      return;
    }
    this.#enqueue(item);
  }

  /** Queues in call order; fails the socket with 1008 past maxQueuedBytes. */
  #enqueue(item: SendItem): void {
    const queuedBefore = this.#queuedBytes();
    if (
      item.kind === "blob" || this.#sends.busy || this.#sends.willCompress(item)
    ) {
      this.#sends.push(item);
    } else this.#sendNow(item);
    if (
      queuedBefore > 0 && this.#queuedBytes() > this.#options.maxQueuedBytes
    ) {
      const error = new Error(
        `more than ${this.#options.maxQueuedBytes} bytes wait to be written: the peer does not read fast enough`,
      );
      this.#fail(CloseCode.PolicyViolation, "send queue full", error);
    }
  }

  /**
   * Starts the close handshake; does nothing once closing began.
   *
   * @param code 1000 or 3000-4999 on the client side; on the server side any
   * code that may be sent (1000-1003, 1007-1014, 3000-4999). Without a code
   * the close frame is empty (the peer sees 1005), unless a reason is given
   * (then 1000).
   * @param reason at most 123 bytes of UTF-8
   * @throws {DOMException} "InvalidAccessError" for a code not allowed,
   * "SyntaxError" for a reason that is too long
   */
  close(code?: number, reason?: string): void {
    const checked = checkCloseArguments(this.#role, code, reason);
    if (this.#readyState === CONNECTING) {
      this.#readyState = CLOSING;
      this.#closeOnOpen = checked;
    } else if (this.#readyState === OPEN) {
      this.#beginClose(checked.code, checked.reason);
    }
  }

  /**
   * Sends a ping; the answer arrives as a "pong" event. Not in the browser
   * API (`ws` and Bun have it). Ignored unless OPEN.
   *
   * @param data up to 125 bytes; a string is sent as UTF-8
   * @throws {RangeError} when `data` is longer than 125 bytes
   */
  ping(data: string | Uint8Array = new Uint8Array(0)): void {
    if (this.#readyState !== OPEN || this.#protocol.closeSent) return;
    this.#protocol.ping(
      typeof data === "string" ? textEncoder.encode(data) : data,
    );
    this.#flush();
  }

  /**
   * Subscribes to a pub/sub topic of the server (as in Bun). Allowed from
   * the moment `upgradeWebSocket` returns; ignored once CLOSED. Closing
   * drops every subscription.
   *
   * @param topic any string
   * @throws {TypeError} for a socket that did not come from `serve()`
   */
  subscribe(topic: string): void {
    this.#registry().subscribe(this, topic);
  }

  /**
   * Leaves a topic; a topic left without subscribers is removed.
   *
   * @param topic the topic
   */
  unsubscribe(topic: string): void {
    this.#topics?.unsubscribe(this, topic);
  }

  /**
   * Whether this socket is subscribed to `topic`.
   *
   * @param topic the topic
   * @returns true when subscribed
   */
  isSubscribed(topic: string): boolean {
    return this.#topics?.isSubscribed(this, topic) ?? false;
  }

  /** The topics this socket is subscribed to, in subscription order. */
  get subscriptions(): string[] {
    return this.#topics?.subscriptionsOf(this) ?? [];
  }

  /**
   * Publishes to every other OPEN socket subscribed to `topic` (not to this
   * one), framing the message once; see `TopicRegistry.publish`.
   *
   * @param topic the topic
   * @param data text or bytes (not a Blob)
   * @returns how many sockets the message was queued to
   * @throws {TypeError} for a Blob, or a socket that did not come from `serve()`
   */
  publish(topic: string, data: PublishData): number {
    return this.#registry().publish(topic, data, this);
  }

  #registry(): TopicRegistry {
    if (this.#topics !== null) return this.#topics;
    throw new TypeError(
      "pub/sub needs a socket from serve()'s upgradeWebSocket",
    );
  }

  /**
   * Resolves once every byte sent so far is written to the connection, or
   * the socket closed. Await it between sends to send at the pace the peer
   * reads. Never rejects.
   *
   * @returns a promise that resolves when nothing waits to be written
   */
  drained(): Promise<void> {
    if (this.#readyState === CLOSED || this.#queuedBytes() === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Iterates over the messages that arrive from now on (strings for text,
   * Uint8Array for binary, whatever `binaryType` says) until the socket
   * closes, however it closes; "message" events still fire. When the loop
   * falls behind, the socket stops reading from the connection (see
   * `MESSAGE_BUFFER_HIGH_WATER_BYTES`), which slows the sender down. Leaving
   * the loop early does not close the socket. One iteration at a time.
   *
   * @returns the iterator
   * @throws {TypeError} when another iteration is running
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<IteratedMessage> {
    if (this.#messages !== null) {
      throw new TypeError("the socket is already being iterated");
    }
    const messages = new MessageBuffer();
    if (this.#readyState === CLOSED) messages.end();
    else this.#messages = messages;
    return messages.iterate(() => {
      if (this.#messages === messages) this.#messages = null;
    });
  }

  static {
    attach = (socket, conn, leftover, negotiated) =>
      socket.#attach(conn, leftover, negotiated);
    abort = (socket, reason) => {
      if (socket.#conn !== null) return;
      socket.#finish(abnormalEnding(new Error(reason)));
    };
    queueEncoded = (socket, frame) => {
      if (socket.#readyState !== OPEN) return false;
      socket.#enqueue({ kind: "encoded", data: frame });
      return socket.#readyState === OPEN;
    };
  }

  #attach(
    conn: ByteConn,
    leftover: Uint8Array,
    negotiated: NegotiatedConnection,
  ): Promise<void> {
    if (this.#conn !== null || this.#readyState === CLOSED) {
      closeQuietly(conn);
      return Promise.resolve();
    }
    if (negotiated.perMessageDeflate !== undefined) {
      this.#enableDeflate(negotiated.perMessageDeflate);
    }
    const settled = new Promise<void>((resolve) => this.#settle = resolve);
    this.#conn = conn;
    this.#subprotocol = negotiated.protocol;
    this.#extensions = negotiated.extensions;
    this.#url = negotiated.url ?? "";
    this.#writer = new WriteQueue(conn, {
      onIdle: () => this.#onWriterIdle(),
      onError: (error) => this.#onTransportError(error),
    });
    if (this.#closeOnOpen !== null) {
      this.#beginClose(this.#closeOnOpen.code, this.#closeOnOpen.reason);
      this.#closeOnOpen = null;
    } else {
      this.#readyState = OPEN;
      this.#keepalive.start();
      this.emit(new Event("open"));
    }
    if (leftover.length > 0 && this.#readyState !== CLOSED) {
      this.#receive(leftover);
    }
    if (this.#readyState !== CLOSED) {
      this.#readLoop(conn, new Uint8Array(this.#options.readBufferSize));
    }
    return settled;
  }

  /** Nothing was sent or received yet, so the protocol can be replaced. */
  #enableDeflate(deflate: NegotiatedDeflate): void {
    this.#sends.compressFrom(deflate.threshold);
    this.#protocol = new Protocol({
      role: this.#role,
      maxMessageSize: this.#options.maxMessageSize,
      perMessageDeflate: true,
    });
  }

  async #readLoop(conn: ByteConn, buffer: Uint8Array): Promise<void> {
    try {
      while (this.#readyState !== CLOSED) {
        if (this.#inbound.busy) {
          // Bounded memory: read on once the message is inflated.
          await this.#inbound.whenIdle();
          continue;
        }
        const messages = this.#messages;
        if (messages !== null && messages.full && this.#readyState === OPEN) {
          await messages.waitForSpace();
          continue;
        }
        const count = await conn.read(buffer);
        if (this.#readyState === CLOSED) return;
        if (count === null) return this.#onEndOfStream();
        // The protocol copies whatever it keeps, so the buffer is reused.
        if (count > 0) this.#receive(buffer.subarray(0, count));
      }
    } catch (error) {
      this.#onTransportError(error);
    }
  }

  #receive(chunk: Uint8Array): void {
    this.#keepalive.received();
    let events: ProtocolEvent[];
    try {
      events = this.#protocol.receive(chunk);
    } catch (error) {
      return this.#onTransportError(error);
    }
    this.#inbound.push(events);
    this.#flush();
    this.#maybeFinish();
  }

  #handleEvent(event: InboundEvent): void {
    switch (event.type) {
      case "text":
      case "binary":
        if (this.#readyState !== OPEN) return;
        this.emit(
          new MessageEvent("message", {
            data: messageEventData(event.data, this.#binaryType),
          }),
        );
        this.#messages?.push(event.data);
        return;
      case "ping":
      case "pong":
        this.emit(new MessageEvent(event.type, { data: event.data }));
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

  #sendNow(message: OutgoingMessage): void {
    const protocol = this.#protocol;
    if (message.kind !== "close" && protocol.closeSent) {
      // The peer's close frame came in the same read as the message being
      // handled (or waits behind one being inflated): its echo is queued
      // and nothing may follow it. Dropped, as sends after close() are.
      this.#discardedBytes += sendItemSize(message);
      return;
    }
    if (message.kind === "text") protocol.sendText(message.data);
    else if (message.kind === "binary") protocol.sendBinary(message.data);
    else if (message.kind === "compressed") {
      protocol.sendCompressed(message.messageType, message.data);
    } else if (message.kind === "encoded") {
      protocol.sendEncodedFrame(message.data);
    } else protocol.close(message.code, message.reason);
    this.#flush();
  }

  #flush(): void {
    const outgoing = this.#protocol.takeOutgoing();
    if (outgoing.length > 0) this.#writer?.push(outgoing);
  }

  #queuedBytes(): number {
    return (this.#writer?.bufferedAmount ?? 0) + this.#sends.bytes;
  }

  /** close() or the idle timer: send our close frame, then wait for the peer's. */
  #beginClose(code: number | undefined, reason: string): void {
    this.#readyState = CLOSING;
    this.#keepalive.stop();
    const message: OutgoingMessage = { kind: "close", code, reason };
    if (this.#sends.busy) this.#sends.push(message);
    else this.#sendNow(message);
    this.#startCloseTimer();
    this.#messages?.wake();
  }

  /** The peer closed or broke the protocol: nothing more can be sent. */
  #enterClosing(): void {
    this.#readyState = CLOSING;
    this.#keepalive.stop();
    this.#discardedBytes += this.#sends.clear();
    this.#startCloseTimer();
    this.#messages?.wake();
  }

  #startCloseTimer(): void {
    this.#closing.startTimer(
      this.#options.closeTimeout,
      (error) => this.#onTransportError(error),
    );
  }

  /** A received message could not be inflated or decoded: 1007 or 1009. */
  #failInbound(error: unknown): void {
    const reason = fitCloseReason(
      error instanceof Error ? error.message : String(error),
    );
    this.#fail(inboundFailureCode(error), reason, error);
  }

  /** Fails the connection from this side: drop the queue, send close, hang up. */
  #fail(code: number, reason: string, error: unknown): void {
    if (this.#readyState === CLOSED) return;
    this.#closing.failed(code, reason, error);
    // Nothing more is delivered; a message being inflated is discarded.
    this.#inbound.clear();
    this.#enterClosing();
    this.#discardedBytes += this.#writer?.discardQueued() ?? 0;
    this.#protocol.close(code, reason);
    this.#flush();
    this.#maybeFinish();
  }

  #onWriterIdle(): void {
    if (this.#queuedBytes() === 0) this.#resolveDrained();
    this.#maybeFinish();
  }

  /** Ends the connection once the close handshake allows it. */
  #maybeFinish(): void {
    if (this.#readyState === CLOSED || this.#sends.busy) return;
    if (this.#writer === null || !this.#writer.idle) return;
    const ending = this.#closing.whenFlushed();
    if (ending !== null) this.#finish(ending);
  }

  #onEndOfStream(): void {
    const ending = this.#closing.endOfStream();
    if (ending !== null) this.#finish(ending);
    else this.#maybeFinish();
  }

  /** A read or write failed, or the close timeout passed: end now. */
  #onTransportError(error: unknown): void {
    if (this.#readyState !== CLOSED) this.#finish(this.#closing.broken(error));
  }

  #finish(ending: Ending): void {
    if (this.#readyState === CLOSED) return;
    this.#readyState = CLOSED;
    this.#topics?.unsubscribeAll(this);
    this.#closing.stopTimer();
    this.#keepalive.stop();
    this.#inbound.clear();
    this.#discardedBytes += this.#sends.clear() + (this.#writer?.close() ?? 0);
    if (this.#conn !== null) closeQuietly(this.#conn);
    if (!ending.wasClean) this.emit(createErrorEvent(ending.error));
    this.emit(createCloseEvent(ending));
    this.#messages?.end();
    this.#messages = null;
    this.#resolveDrained();
    this.#settle?.();
  }

  #resolveDrained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * Creates a socket in CONNECTING state. The server's `upgradeWebSocket`
 * calls this; the connection is attached once the handshake response is out.
 *
 * @param role "server" or "client"
 * @param options limits and timers
 * @param topics the server's pub/sub registry, if any
 * @returns the socket
 * @throws {RangeError} when an option is invalid
 */
export function createPendingSocket(
  role: Role,
  options?: WebSocketOptions,
  topics?: TopicRegistry,
): WebSocketConnection {
  return new WebSocketConnection(role, options, topics);
}

/**
 * Opens a pending socket over `conn` once the handshake is complete: sets
 * `protocol`, `extensions` and `url`, makes it OPEN and dispatches "open"
 * (unless `close()` was called meanwhile: then the close handshake starts
 * instead), feeds `leftover` (bytes read past the handshake; the socket
 * takes ownership) to the protocol, then reads `conn` until the socket
 * closes.
 *
 * @param socket a socket from {@linkcode createPendingSocket}
 * @param conn the connection; the socket closes it
 * @param leftover bytes already read past the handshake
 * @param negotiated the subprotocol, extensions, URL and permessage-deflate
 * @returns a promise that resolves (never rejects) once the connection is
 * closed and "close" was dispatched
 * @throws {RangeError} for an invalid permessage-deflate threshold (the
 * socket and `conn` are left untouched)
 */
export function attachConnection(
  socket: WebSocketConnection,
  conn: ByteConn,
  leftover: Uint8Array,
  negotiated: NegotiatedConnection,
): Promise<void> {
  return attach(socket, conn, leftover, negotiated);
}

/**
 * Fails a socket whose handshake was abandoned before a connection was
 * attached: dispatches "error" then "close" (1006, wasClean false), as a
 * browser does when a connection cannot be established. Does nothing to an
 * attached or closed socket.
 *
 * @param socket a socket from {@linkcode createPendingSocket}
 * @param reason why the handshake was abandoned (the error event's message)
 */
export function abortPendingSocket(
  socket: WebSocketConnection,
  reason: string,
): void {
  abort(socket, reason);
}

function closeQuietly(conn: ByteConn): void {
  try {
    conn.close();
  } catch {
    // Already closed: nothing left to release.
  }
}

/**
 * Queues one pre-encoded data frame (from `pubsub.ts`) like `send()`: in
 * order with other sends, under the socket's `maxQueuedBytes`. Internal.
 * On a socket that agreed permessage-deflate the frame still goes out as
 * it is, uncompressed (RSV1 is decided per message, so that is valid): one
 * encoding serves every subscriber.
 *
 * @param socket an OPEN server socket
 * @param frame an unmasked frame; not copied, must not change
 * @returns whether it was queued and the socket is still OPEN
 */
export function queueEncodedFrame(
  socket: WebSocketConnection,
  frame: Uint8Array,
): boolean {
  return queueEncoded(socket, frame);
}
