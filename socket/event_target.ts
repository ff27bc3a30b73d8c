/**
 * The browser-facing shape of a WebSocket that does not depend on the
 * connection: the readyState constants, the `onopen`/`onmessage`/`onerror`/
 * `onclose` handler properties with DOM semantics, and event listener
 * typings.
 *
 * @module
 */

import { callAtTarget, canCallAtTarget, reportError } from "./events.ts";
import type { BinaryType, WebSocketSendData } from "./options.ts";
import { ReadyState } from "../protocol/types.ts";

/** The events of a WebSocket connection, by type. */
export interface WebSocketEventMap {
  /** The connection opened. */
  open: Event;
  /** A message arrived: data is a string, a Blob or an ArrayBuffer. */
  message: MessageEvent;
  /** The connection failed; a "close" event always follows. */
  error: Event;
  /** The connection closed. */
  close: CloseEvent;
  /** A ping arrived (the pong is sent automatically); data is its payload. */
  ping: MessageEvent<Uint8Array>;
  /** A pong arrived; data is its payload. */
  pong: MessageEvent<Uint8Array>;
}

/**
 * The WebSocket API every implementation offers (this library's socket, the
 * browser's and Deno's `WebSocket`): what `this` is inside an `on<event>`
 * handler. Typed this way rather than as the socket's own class so that
 * code typed against the DOM's `WebSocket` (a `Set<WebSocket>`, a function
 * taking one) accepts this library's socket.
 */
export interface WebSocketLike extends EventTarget {
  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  readonly readyState: number;
  /** The URL of the connection. */
  readonly url: string;
  /** The subprotocol selected, or "". */
  readonly protocol: string;
  /** The extensions accepted, or "". */
  readonly extensions: string;
  /** Bytes queued and not yet written. */
  readonly bufferedAmount: number;
  /** How binary messages appear in "message" events. */
  binaryType: BinaryType;
  /**
   * Sends a message.
   *
   * @param data text or bytes
   */
  send(data: WebSocketSendData): void;
  /**
   * Starts the close handshake.
   *
   * @param code the close code
   * @param reason the close reason
   */
  close(code?: number, reason?: string): void;
}

/** An `on<event>` handler; `this` is the socket. */
export type WebSocketEventHandler<Target, E extends Event> =
  | ((this: Target, event: E) => unknown)
  | null;

type AnyHandler = (this: unknown, event: Event) => unknown;
type HandlerType = "open" | "message" | "error" | "close";

/** A "message" listener as registered. */
interface MessageListener {
  listener: EventListenerOrEventListenerObject;
  capture: boolean;
  once: boolean;
}

/** The capture flag of listener options, as the DOM reads it. */
function captureOf(
  options: boolean | EventListenerOptions | undefined,
): boolean {
  return typeof options === "boolean" ? options : options?.capture === true;
}

/** Listeners are told apart by the function and the capture flag, as the
 * DOM tells them apart. */
const captureKeys = new WeakMap<object, object>();
function listenerKey(
  listener: EventListenerOrEventListenerObject,
  capture: boolean,
): object {
  if (!capture) return listener;
  let key = captureKeys.get(listener);
  if (key === undefined) {
    key = {};
    captureKeys.set(listener, key);
  }
  return key;
}

/** The runtime's own `dispatchEvent`, to tell when a socket has another. */
const nativeDispatchEvent = EventTarget.prototype.dispatchEvent;

let handlerOf: (target: WebSocketEventTarget, type: HandlerType) =>
  | AnyHandler
  | null;

// One listener function per event type, shared by every socket: the
// runtime calls it with `this` set to the socket (the current target).
function openListener(this: WebSocketEventTarget, event: Event): unknown {
  return handlerOf(this, "open")?.call(this, event);
}
function messageListener(this: WebSocketEventTarget, event: Event): unknown {
  return handlerOf(this, "message")?.call(this, event);
}
function errorListener(this: WebSocketEventTarget, event: Event): unknown {
  return handlerOf(this, "error")?.call(this, event);
}
function closeListener(this: WebSocketEventTarget, event: Event): unknown {
  return handlerOf(this, "close")?.call(this, event);
}
const sharedListeners: Record<HandlerType, (event: Event) => unknown> = {
  open: openListener,
  message: messageListener,
  error: errorListener,
  close: closeListener,
};

/**
 * An `EventTarget` with a WebSocket's constants and handler properties.
 * Setting a handler property replaces the previous handler and keeps its
 * place among the listeners; setting null removes it, as in the DOM. A
 * listener that throws is reported (by the runtime's `EventTarget`) and
 * does not stop the others or the socket.
 */
export class WebSocketEventTarget extends EventTarget {
  /** readyState before the connection opens. */
  static readonly CONNECTING: 0 = ReadyState.CONNECTING;
  /** readyState while messages flow. */
  static readonly OPEN: 1 = ReadyState.OPEN;
  /** readyState once the close handshake began. */
  static readonly CLOSING: 2 = ReadyState.CLOSING;
  /** readyState once the connection is closed. */
  static readonly CLOSED: 3 = ReadyState.CLOSED;

  /** The "message" listeners added, to know whether any remain; made by
   * the first (most sockets only set `onmessage`). */
  #messageListeners: Map<object, MessageListener> | null = null;
  #onopen: AnyHandler | null = null;
  #onmessage: AnyHandler | null = null;
  #onerror: AnyHandler | null = null;
  #onclose: AnyHandler | null = null;

  static {
    handlerOf = (target, type) => {
      switch (type) {
        case "open":
          return target.#onopen;
        case "message":
          return target.#onmessage;
        case "error":
          return target.#onerror;
        case "close":
          return target.#onclose;
      }
    };
  }

  /** readyState before the connection opens. */
  get CONNECTING(): 0 {
    return ReadyState.CONNECTING;
  }
  /** readyState while messages flow. */
  get OPEN(): 1 {
    return ReadyState.OPEN;
  }
  /** readyState once the close handshake began. */
  get CLOSING(): 2 {
    return ReadyState.CLOSING;
  }
  /** readyState once the connection is closed. */
  get CLOSED(): 3 {
    return ReadyState.CLOSED;
  }

  /** Handler for "open". */
  get onopen(): WebSocketEventHandler<WebSocketLike, Event> {
    return this.#getHandler("open");
  }
  set onopen(handler: WebSocketEventHandler<WebSocketLike, Event>) {
    this.#setHandler("open", handler);
  }

  /** Handler for "message". */
  get onmessage(): WebSocketEventHandler<WebSocketLike, MessageEvent> {
    return this.#getHandler("message");
  }
  set onmessage(handler: WebSocketEventHandler<WebSocketLike, MessageEvent>) {
    this.#setHandler("message", handler);
  }

  /** Handler for "error". */
  get onerror(): WebSocketEventHandler<WebSocketLike, Event> {
    return this.#getHandler("error");
  }
  set onerror(handler: WebSocketEventHandler<WebSocketLike, Event>) {
    this.#setHandler("error", handler);
  }

  /** Handler for "close". */
  get onclose(): WebSocketEventHandler<WebSocketLike, CloseEvent> {
    return this.#getHandler("close");
  }
  set onclose(handler: WebSocketEventHandler<WebSocketLike, CloseEvent>) {
    this.#setHandler("close", handler);
  }

  /**
   * Adds a listener; typed for the events in {@linkcode WebSocketEventMap}.
   *
   * @param type the event type
   * @param listener the function or object to call
   * @param options capture, once, passive, signal
   */
  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: this, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Adds a listener for any event type.
   *
   * @param type the event type
   * @param listener the function or object to call
   * @param options capture, once, passive, signal
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
    if (type === "message" && listener !== null) {
      this.#trackMessageListener(listener, options);
    }
  }

  /**
   * Removes a listener added with {@linkcode addEventListener}.
   *
   * @param type the event type
   * @param listener the function or object to remove
   * @param options capture
   */
  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: this, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Removes a listener of any event type.
   *
   * @param type the event type
   * @param listener the function or object to remove
   * @param options capture
   */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
    if (type === "message" && listener !== null) {
      this.#untrackMessageListener(listener, captureOf(options));
    }
  }

  /**
   * Whether anything listens for "message" events (`onmessage`, a listener,
   * or a `dispatchEvent` set on the socket): an async iterator that was
   * never read then must not hold the reading back, or those listeners
   * would starve. When nothing does, no "message" event is made.
   */
  protected get listensForMessages(): boolean {
    return this.#onmessage !== null ||
      (this.#messageListeners?.size ?? 0) > 0 ||
      this.dispatchEvent !== nativeDispatchEvent;
  }

  #trackMessageListener(
    listener: EventListenerOrEventListenerObject,
    options: boolean | AddEventListenerOptions | undefined,
  ): void {
    const signal = typeof options === "object" ? options.signal : undefined;
    // The runtime adds nothing for a signal that already aborted.
    if (signal?.aborted) return;
    const capture = captureOf(options);
    const key = listenerKey(listener, capture);
    const listeners = this.#messageListeners ??= new Map();
    if (listeners.has(key)) return;
    const once = typeof options === "object" && options.once === true;
    listeners.set(key, { listener, capture, once });
    signal?.addEventListener(
      "abort",
      () => this.#untrackMessageListener(listener, capture),
      { once: true },
    );
  }

  #untrackMessageListener(
    listener: EventListenerOrEventListenerObject,
    capture: boolean,
  ): void {
    this.#messageListeners?.delete(listenerKey(listener, capture));
  }

  /**
   * Dispatches an event the socket produced. Never throws: whatever escapes
   * the runtime's dispatch is reported.
   *
   * @param event the event
   */
  protected emit(event: Event): void {
    if (event.type === "message" && this.#deliverDirectly(event)) return;
    try {
      this.dispatchEvent(event);
    } catch (error) {
      reportError(error);
    }
    const listeners = this.#messageListeners;
    if (event.type === "message" && listeners !== null && listeners.size > 0) {
      for (const [key, entry] of listeners) {
        if (entry.once) listeners.delete(key);
      }
    }
  }

  /**
   * Delivers a message event without the runtime's `dispatchEvent` when one
   * function listens (`onmessage` or one listener) and the socket's
   * `dispatchEvent` is the runtime's: what the listener observes is the
   * same (docs/PERFORMANCE.md, "Issue 15: delivering a message").
   *
   * @returns false when the runtime's dispatch must deliver it
   */
  #deliverDirectly(event: Event): boolean {
    if (
      !canCallAtTarget(event) || this.dispatchEvent !== nativeDispatchEvent
    ) {
      return false;
    }
    const listeners = this.#messageListeners;
    if (listeners === null || listeners.size === 0) {
      const handler = this.#onmessage;
      if (handler === null) return true;
      callAtTarget(event, this, handler);
      return true;
    }
    if (this.#onmessage !== null || listeners.size !== 1) return false;
    const entry = listeners.values().next().value!;
    const listener = entry.listener;
    if (typeof listener !== "function") return false;
    if (entry.once) {
      super.removeEventListener("message", listener, entry.capture);
      this.#untrackMessageListener(listener, entry.capture);
    }
    callAtTarget(event, this, listener as AnyHandler);
    return true;
  }

  #getHandler<T>(type: HandlerType): T | null {
    return handlerOf(this, type) as T | null;
  }

  #setHandler(type: HandlerType, handler: unknown): void {
    const previous = handlerOf(this, type);
    const next = typeof handler === "function" ? handler as AnyHandler : null;
    switch (type) {
      case "open":
        this.#onopen = next;
        break;
      case "message":
        this.#onmessage = next;
        break;
      case "error":
        this.#onerror = next;
        break;
      case "close":
        this.#onclose = next;
        break;
    }
    if (previous === null && next !== null) {
      super.addEventListener(type, sharedListeners[type]);
    } else if (previous !== null && next === null) {
      super.removeEventListener(type, sharedListeners[type]);
    }
  }
}
