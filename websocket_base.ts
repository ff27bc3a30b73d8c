/**
 * The browser-facing shape of a WebSocket that does not depend on the
 * connection: the readyState constants, the `onopen`/`onmessage`/`onerror`/
 * `onclose` handler properties with DOM semantics, and event listener
 * typings.
 *
 * @module
 */

import { reportError } from "./websocket_events.ts";

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

/** An `on<event>` handler; `this` is the socket. */
export type WebSocketEventHandler<Target, E extends Event> =
  | ((this: Target, event: E) => unknown)
  | null;

type AnyHandler = (this: unknown, event: Event) => unknown;
interface HandlerEntry {
  handler: AnyHandler;
  listener: (event: Event) => unknown;
}

/**
 * An `EventTarget` with a WebSocket's constants and handler properties.
 * Setting a handler property replaces the previous handler and keeps its
 * place among the listeners; setting null removes it, as in the DOM. A
 * listener that throws is reported (by the runtime's `EventTarget`) and
 * does not stop the others or the socket.
 */
export class WebSocketEventTarget extends EventTarget {
  /** readyState before the connection opens. */
  static readonly CONNECTING = 0;
  /** readyState while messages flow. */
  static readonly OPEN = 1;
  /** readyState once the close handshake began. */
  static readonly CLOSING = 2;
  /** readyState once the connection is closed. */
  static readonly CLOSED = 3;

  #handlers: Map<string, HandlerEntry> | null = null;

  /** readyState before the connection opens. */
  get CONNECTING(): 0 {
    return 0;
  }
  /** readyState while messages flow. */
  get OPEN(): 1 {
    return 1;
  }
  /** readyState once the close handshake began. */
  get CLOSING(): 2 {
    return 2;
  }
  /** readyState once the connection is closed. */
  get CLOSED(): 3 {
    return 3;
  }

  /** Handler for "open". */
  get onopen(): WebSocketEventHandler<this, Event> {
    return this.#getHandler("open");
  }
  set onopen(handler: WebSocketEventHandler<this, Event>) {
    this.#setHandler("open", handler);
  }

  /** Handler for "message". */
  get onmessage(): WebSocketEventHandler<this, MessageEvent> {
    return this.#getHandler("message");
  }
  set onmessage(handler: WebSocketEventHandler<this, MessageEvent>) {
    this.#setHandler("message", handler);
  }

  /** Handler for "error". */
  get onerror(): WebSocketEventHandler<this, Event> {
    return this.#getHandler("error");
  }
  set onerror(handler: WebSocketEventHandler<this, Event>) {
    this.#setHandler("error", handler);
  }

  /** Handler for "close". */
  get onclose(): WebSocketEventHandler<this, CloseEvent> {
    return this.#getHandler("close");
  }
  set onclose(handler: WebSocketEventHandler<this, CloseEvent>) {
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
  }

  /**
   * Dispatches an event the socket produced. Never throws: whatever escapes
   * the runtime's dispatch is reported.
   *
   * @param event the event
   */
  protected emit(event: Event): void {
    try {
      this.dispatchEvent(event);
    } catch (error) {
      reportError(error);
    }
  }

  #getHandler<T>(type: string): T | null {
    return (this.#handlers?.get(type)?.handler as T | undefined) ?? null;
  }

  #setHandler(type: string, handler: unknown): void {
    this.#handlers ??= new Map();
    const entry = this.#handlers.get(type);
    if (typeof handler !== "function") {
      if (entry !== undefined) {
        super.removeEventListener(type, entry.listener);
        this.#handlers.delete(type);
      }
    } else if (entry !== undefined) {
      entry.handler = handler as AnyHandler;
    } else {
      const created: HandlerEntry = {
        handler: handler as AnyHandler,
        listener: (event) => created.handler.call(this, event),
      };
      this.#handlers.set(type, created);
      super.addEventListener(type, created.listener);
    }
  }
}
