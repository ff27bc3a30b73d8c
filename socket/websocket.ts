/**
 * A socket that behaves like the WHATWG `WebSocket` of a browser (and the
 * one `Deno.upgradeWebSocket` returns), running over any byte stream with
 * `read`, `write` and `close`. It uses no runtime-specific API: the server
 * (or the client) hands it a connection; the state machine behind it
 * (`engine.ts`) drives the sans-I/O `Protocol`, reads with flow
 * control, writes with backpressure, runs the close handshake with a
 * timeout and keeps the connection alive with pings.
 *
 * Beyond the browser API: {@linkcode WebSocketConnection.drained},
 * `for await (const message of socket)`, "ping"/"pong" events, a send-queue
 * cap and ping/idle/close timers (see {@linkcode WebSocketOptions}), and
 * permessage-deflate (RFC 7692) when the handshake agreed it (see
 * {@linkcode NegotiatedConnection.perMessageDeflate}).
 *
 * @module
 */

import { ReadyState, type Role } from "../protocol/types.ts";
import { CloseCode, InvalidStateError } from "../errors.ts";
import {
  type AttachedConnectionHook,
  SocketEngine,
  type SocketEngineHooks,
} from "./engine.ts";
import type { IteratedMessage } from "./message_buffer.ts";
import { toSendItem } from "./send_queue.ts";
import type { SendOptions } from "../protocol/types.ts";
import { WebSocketEventTarget } from "./event_target.ts";
import type { PublishData, TopicRegistry } from "./pubsub.ts";
import { checkCloseArguments } from "./events.ts";
import type {
  BinaryType,
  NegotiatedConnection,
  WebSocketOptions,
  WebSocketSendData,
} from "./options.ts";
import type { ByteConn } from "./transport.ts";

export type { Role } from "../protocol/types.ts";
export type { ByteConn, NetAddr } from "./transport.ts";

const textEncoder = new TextEncoder();

let attach: (
  socket: WebSocketConnection,
  conn: ByteConn,
  leftover: Uint8Array,
  negotiated: NegotiatedConnection,
  onClosed: AttachedConnectionHook,
) => void;
let abort: (socket: WebSocketConnection, reason: string) => void;
let queueEncoded: (socket: WebSocketConnection, frame: Uint8Array) => boolean;
let closeForShutdown: (socket: WebSocketConnection, reason: string) => void;
let bindTopics: (
  socket: WebSocketConnection,
  topics: TopicRegistry<WebSocketConnection>,
) => void;

let emitOn: (socket: WebSocketConnection, event: Event) => void;
let binaryTypeOf: (socket: WebSocketConnection) => BinaryType;
let listensOn: (socket: WebSocketConnection) => boolean;
let closedOn: (socket: WebSocketConnection) => void;

/** The engine's side of a socket: one small object per socket instead of
 * a closure per hook (docs/PERFORMANCE.md, issue 15). */
class EngineHooks implements SocketEngineHooks {
  readonly #socket: WebSocketConnection;

  constructor(socket: WebSocketConnection) {
    this.#socket = socket;
  }

  emit(event: Event): void {
    emitOn(this.#socket, event);
  }

  binaryType(): BinaryType {
    return binaryTypeOf(this.#socket);
  }

  listensForMessages(): boolean {
    return listensOn(this.#socket);
  }

  closed(): void {
    closedOn(this.#socket);
  }
}

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
  /** The connection state machine; events come back through its hooks. */
  readonly #engine: SocketEngine;
  #binaryType: BinaryType;
  /** The server's pub/sub topics; null for a socket without a server. */
  #topics: TopicRegistry<WebSocketConnection> | null = null;

  /**
   * Use {@linkcode createPendingSocket}, or the server's `upgradeWebSocket`.
   *
   * @param role "server" or "client"
   * @param options limits and timers
   * @throws {RangeError} when an option is invalid
   */
  constructor(role: Role, options?: WebSocketOptions) {
    super();
    this.#role = role;
    this.#binaryType = role === "server" ? "arraybuffer" : "blob";
    this.#engine = new SocketEngine(role, options, new EngineHooks(this));
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): number {
    return this.#engine.readyState;
  }

  /** The subprotocol selected in the handshake, or "". */
  get protocol(): string {
    return this.#engine.negotiated.protocol;
  }

  /** The extensions accepted in the handshake, or "". */
  get extensions(): string {
    return this.#engine.negotiated.extensions;
  }

  /** The URL of the connection: "" on the server side unless the server sets one. */
  get url(): string {
    return this.#engine.negotiated.url ?? "";
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
    return this.#engine.bufferedAmount;
  }

  /**
   * Sends a message: a string as text, anything binary as a binary message.
   * Messages go out in call order; a Blob is read first and later sends wait
   * behind it. Binary data is captured at call time. With permessage-deflate
   * agreed, messages from the threshold on are compressed (as they are
   * framed, in order); `options.compress` decides for one message.
   *
   * @param data the message
   * @param options per-message choices (as `ws`'s and Bun's `send` take)
   * @throws {InvalidStateError} (a `DOMException`) while CONNECTING. Once closing
   * began the data is discarded silently and added to `bufferedAmount`; so
   * is data sent from a "message" handler when the peer's close frame came
   * in the same read as that message (its echo already went out; the
   * "close" event follows).
   */
  send(data: WebSocketSendData, options?: SendOptions): void {
    if (this.#engine.readyState === ReadyState.CONNECTING) {
      throw new InvalidStateError("the socket is not open yet");
    }
    this.#engine.send(toSendItem(data, options?.compress));
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
    this.#engine.close(checked.code, checked.reason);
  }

  /**
   * Sends a ping; the answer arrives as a "pong" event. Not in the browser
   * API (`ws` and Bun have it). Ignored unless OPEN.
   *
   * @param data up to 125 bytes; a string is sent as UTF-8
   * @throws {RangeError} when `data` is longer than 125 bytes
   */
  ping(data: string | Uint8Array = new Uint8Array(0)): void {
    this.#engine.ping(
      typeof data === "string" ? textEncoder.encode(data) : data,
    );
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

  #registry(): TopicRegistry<WebSocketConnection> {
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
    return this.#engine.drained();
  }

  /**
   * Iterates over the messages that arrive from now on (strings for text,
   * Uint8Array for binary, whatever `binaryType` says) until the socket
   * closes, however it closes; "message" events still fire. When the loop
   * falls behind, the socket stops reading from the connection (see
   * `DEFAULTS.limits.iteratorHighWaterBytes`), which slows the sender down. Leaving
   * the loop early does not close the socket. One iteration at a time.
   *
   * @returns the iterator
   * @throws {TypeError} when another iteration is running
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<IteratedMessage> {
    return this.#engine.iterate();
  }

  static {
    emitOn = (socket, event) => socket.emit(event);
    binaryTypeOf = (socket) => socket.#binaryType;
    listensOn = (socket) => socket.listensForMessages;
    closedOn = (socket) => socket.#topics?.unsubscribeAll(socket);
    attach = (socket, conn, leftover, negotiated, onClosed) =>
      socket.#engine.attach(conn, leftover, negotiated, onClosed);
    abort = (socket, reason) => socket.#engine.abort(reason);
    queueEncoded = (socket, frame) => socket.#engine.queueEncoded(frame);
    bindTopics = (socket, topics) => socket.#topics = topics;
    closeForShutdown = (socket, reason) =>
      socket.#engine.closeForShutdown(CloseCode.GoingAway, reason);
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
  topics?: TopicRegistry<WebSocketConnection>,
): WebSocketConnection {
  const socket = new WebSocketConnection(role, options);
  if (topics !== undefined) bindTopics(socket, topics);
  return socket;
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
 * @throws {RangeError} for an invalid permessage-deflate threshold or
 * window (the socket and `conn` are left untouched)
 */
export function attachConnection(
  socket: WebSocketConnection,
  conn: ByteConn,
  leftover: Uint8Array,
  negotiated: NegotiatedConnection,
): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  attach(socket, conn, leftover, negotiated, { connectionClosed: resolve });
  return promise;
}

/**
 * {@linkcode attachConnection} for a server that keeps no promise per
 * connection: `onClosed.connectionClosed()` is called when the promise
 * would resolve. Internal, for `serve()`.
 *
 * @param socket a socket from {@linkcode createPendingSocket}
 * @param conn the connection; the socket closes it
 * @param leftover bytes already read past the handshake
 * @param negotiated the subprotocol, extensions, URL and permessage-deflate
 * @param onClosed told once the connection is closed
 * @throws {RangeError} as {@linkcode attachConnection} does
 */
export function attachConnectionWith(
  socket: WebSocketConnection,
  conn: ByteConn,
  leftover: Uint8Array,
  negotiated: NegotiatedConnection,
  onClosed: AttachedConnectionHook,
): void {
  attach(socket, conn, leftover, negotiated, onClosed);
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

/**
 * Closes a socket with 1001 (going away) because the server shuts down.
 * Unlike `close()`, messages that arrive before the peer's close frame are
 * still delivered ("message" events and the async iterator): the peer sent
 * them before it learned of the shutdown. Internal, for `serve()`.
 *
 * @param socket an attached socket; nothing happens once closing began
 * @param reason the close reason
 */
export function closeSocketForShutdown(
  socket: WebSocketConnection,
  reason: string,
): void {
  closeForShutdown(socket, reason);
}
