/**
 * The receiving half of permessage-deflate (RFC 7692) for a socket: what
 * the protocol reports is handed on in arrival order, with each compressed
 * message inflated first. Inflating is asynchronous, so while one message
 * is being inflated every later event (messages, pings, pongs, the peer's
 * close, a protocol error) waits behind it, and the socket stops reading
 * from its connection until nothing waits: memory stays bounded by one
 * message plus one read's worth of events.
 *
 * @module
 */

import { inflateMessage } from "../deflate/payload.ts";
import { CloseCode, WebSocketError } from "../errors.ts";
import type { ProtocolEvent } from "../protocol/types.ts";
import { decodeUtf8 } from "../frame/utf8.ts";

/** A protocol event as the socket sees it: compressed messages inflated. */
export type InboundEvent = Exclude<ProtocolEvent, { type: "compressed" }>;

/** A compressed message, as the protocol reports it. */
type CompressedEvent = Extract<ProtocolEvent, { type: "compressed" }>;

/** What an {@linkcode InboundQueue} reports to its owner. */
export interface InboundQueueCallbacks {
  /** The next event, in arrival order. */
  inboundDeliver(event: InboundEvent): void;
  /**
   * Whether a compressed message reached now is still wanted (the socket is
   * OPEN). One that is not is dropped without being inflated.
   */
  inboundWanted(): boolean;
  /**
   * A compressed message could not be inflated or is not valid UTF-8 text:
   * fail the connection with the code {@linkcode inboundFailureCode} gives
   * (1007 or 1009). Everything waiting was dropped.
   */
  inboundError(error: unknown): void;
  /** Nothing waits any more: reading may resume. */
  inboundIdle(): void;
}

/**
 * Events from the protocol, handed on in order, compressed messages
 * inflated one at a time. Never rejects: failures go to `onError`, and
 * results that arrive after {@linkcode clear} are discarded.
 */
export class InboundQueue {
  readonly #maxMessageSize: number;
  readonly #callbacks: InboundQueueCallbacks;
  /** Events that arrived while a message was being inflated. */
  #waiting: ProtocolEvent[] = [];
  #inflating = false;
  /** Bumped by clear(), so that a late inflation result is discarded. */
  #generation = 0;
  #idleWaiters: Array<() => void> = [];

  /**
   * @param maxMessageSize the largest message a compressed one may inflate to
   * @param callbacks where events and failures go
   */
  constructor(maxMessageSize: number, callbacks: InboundQueueCallbacks) {
    this.#maxMessageSize = maxMessageSize;
    this.#callbacks = callbacks;
  }

  /** Whether a message is being inflated; later events wait meanwhile. */
  get busy(): boolean {
    return this.#inflating;
  }

  /**
   * Hands on `events` in order: at once while nothing is being inflated,
   * else after what waits before them. Binary bytes that must wait are
   * copied, so the chunk they came from may be reused after this call.
   *
   * @param events what the protocol reported, in order
   */
  push(events: readonly ProtocolEvent[]): void {
    const generation = this.#generation;
    for (const event of events) {
      if (this.#generation !== generation) return;
      if (this.#inflating) this.#waiting.push(keptEvent(event));
      else this.#process(event);
    }
  }

  /**
   * Resolves once nothing is being inflated (or {@linkcode clear} was
   * called). Never rejects.
   *
   * @returns the promise
   */
  whenIdle(): Promise<void> {
    if (!this.#inflating) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drops everything waiting; an inflation in progress is discarded when it ends. */
  clear(): void {
    this.#generation++;
    this.#waiting = [];
    this.#inflating = false;
    this.#wakeIdleWaiters();
  }

  #process(event: ProtocolEvent): void {
    if (event.type !== "compressed") {
      this.#callbacks.inboundDeliver(event);
      return;
    }
    if (!this.#callbacks.inboundWanted()) return;
    this.#inflating = true;
    const generation = this.#generation;
    inflateMessage(event.data, this.#maxMessageSize).then(
      (bytes) => this.#inflated(generation, event, bytes),
      (error) => this.#failed(generation, error),
    ).catch((error) => this.#failed(generation, error));
  }

  #inflated(
    generation: number,
    event: CompressedEvent,
    bytes: Uint8Array,
  ): void {
    if (generation !== this.#generation) return;
    let message: InboundEvent;
    if (event.messageType === "text") {
      // Throws InvalidPayloadError (1007), which the catch in #process reports.
      message = { type: "text", data: decodeUtf8(bytes) };
    } else {
      message = { type: "binary", data: bytes };
    }
    this.#inflating = false;
    this.#callbacks.inboundDeliver(message);
    this.#drain(generation);
  }

  /** Hands on what waited, until the next compressed message or the end. */
  #drain(generation: number): void {
    while (
      generation === this.#generation && !this.#inflating &&
      this.#waiting.length > 0
    ) {
      this.#process(this.#waiting.shift()!);
    }
    if (generation !== this.#generation || this.#inflating) return;
    this.#callbacks.inboundIdle();
    this.#wakeIdleWaiters();
  }

  #failed(generation: number, error: unknown): void {
    if (generation !== this.#generation) return;
    this.clear();
    this.#callbacks.inboundError(error);
  }

  #wakeIdleWaiters(): void {
    const waiters = this.#idleWaiters;
    if (waiters.length === 0) return;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * The close code to fail a connection with when a received message could
 * not be handed on: the error's own code (1007 for invalid DEFLATE data or
 * UTF-8, 1009 for a message that inflates past the limit), or 1011 for an
 * unexpected failure that is not the peer's fault.
 *
 * @param error what {@linkcode InboundQueueCallbacks.onError} received
 * @returns the close code
 */
export function inboundFailureCode(error: unknown): number {
  return error instanceof WebSocketError
    ? error.closeCode
    : CloseCode.InternalError;
}

/**
 * An event that can wait past the read that produced it: binary bytes may
 * be a view into the socket's reused read buffer, so they are copied.
 */
function keptEvent(event: ProtocolEvent): ProtocolEvent {
  if (event.type !== "binary") return event;
  return { type: "binary", data: event.data.slice() };
}
