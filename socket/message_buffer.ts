/**
 * The queue behind `for await (const message of socket)`: messages wait here
 * until the loop asks for them. When the loop falls behind, the buffer
 * reports itself full and the socket stops reading from the connection, so
 * a slow consumer slows the sender through TCP flow control instead of
 * growing memory. An iterator that was created but not read yet holds the
 * reading back too, unless something else listens for "message" events
 * (they would starve): then, once it holds the high-water mark, it is
 * failed instead, and its first `next()` rejects.
 *
 * @module
 */

import { DEFAULTS } from "../defaults.ts";
import { UnreadIteratorError } from "../errors.ts";
import { Fifo } from "../protocol/fifo.ts";

/** A message as the async iterator yields it. */
export type IteratedMessage = string | Uint8Array;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** Messages waiting for an async iterator, with a high-water mark. */
export class MessageBuffer {
  readonly #messages = new Fifo<IteratedMessage>();
  #bytes = 0;
  #ended = false;
  #readers: Array<(result: IteratorResult<IteratedMessage>) => void> = [];
  #spaceWaiters: Array<() => void> = [];
  /** Whether `next()` was ever called: only then may reading pause. */
  #pulled = false;
  /** Set when the buffer overflowed before anyone read it. */
  #failure: UnreadIteratorError | null = null;

  /** Whether anything but this buffer listens for messages. */
  readonly #othersListen: () => boolean;

  /**
   * @param othersListen whether "message" listeners exist besides the
   * iterator
   */
  constructor(othersListen: () => boolean) {
    this.#othersListen = othersListen;
  }

  /** True when the reader should stop reading until there is space. */
  get full(): boolean {
    return !this.#ended && this.#overHighWater() &&
      (this.#pulled || !this.#othersListen());
  }

  #overHighWater(): boolean {
    return this.#messages.length >= DEFAULTS.limits.iteratorHighWaterCount ||
      this.#bytes >= DEFAULTS.limits.iteratorHighWaterBytes;
  }

  /**
   * Adds a message, handing it straight to a waiting `next()` if there is
   * one. Ignored after {@linkcode end}.
   *
   * @param message the message data
   */
  push(message: IteratedMessage): void {
    if (this.#ended) return;
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      reader({ done: false, value: message });
      return;
    }
    this.#messages.push(message);
    this.#bytes += message.length;
    if (!this.#pulled && this.#overHighWater() && this.#othersListen()) {
      this.#failure = new UnreadIteratorError(
        `${this.#messages.length} messages (${this.#bytes} bytes) arrived for an async iterator nobody read while "message" listeners also wait; start the for await loop when creating the iterator`,
      );
      this.end(true);
    }
  }

  /**
   * The next message, or done once the buffer ended and is empty.
   *
   * @returns the iterator result
   */
  next(): Promise<IteratorResult<IteratedMessage>> {
    this.#pulled = true;
    const failure = this.#failure;
    if (failure !== null) {
      this.#failure = null;
      return Promise.reject(failure);
    }
    const message = this.#messages.shift();
    if (message !== undefined) {
      this.#bytes -= message.length;
      if (!this.full) this.wake();
      return Promise.resolve({ done: false, value: message });
    }
    if (this.#ended) return Promise.resolve(DONE);
    return new Promise((resolve) => this.#readers.push(resolve));
  }

  /**
   * Resolves once the buffer is no longer full, or {@linkcode wake} is called.
   *
   * @returns a promise that never rejects
   */
  waitForSpace(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  /** Releases everyone waiting in {@linkcode waitForSpace}. */
  wake(): void {
    const waiters = this.#spaceWaiters;
    if (waiters.length === 0) return;
    this.#spaceWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * No more messages will come: messages already buffered are still
   * returned, then every `next()` is done.
   *
   * @param discard drop the buffered messages too (the consumer left)
   */
  end(discard = false): void {
    this.#ended = true;
    if (discard) {
      this.#messages.clear();
      this.#bytes = 0;
    }
    const readers = this.#readers;
    this.#readers = [];
    for (const resolve of readers) resolve(DONE);
    this.wake();
  }

  /**
   * An async iterator over this buffer. Its `return()` (leaving a
   * `for await` loop early) drops what is buffered and calls `onReturn`.
   *
   * @param onReturn called when the consumer leaves early
   * @returns the iterator
   */
  iterate(onReturn: () => void): AsyncIterableIterator<IteratedMessage> {
    return {
      next: () => this.next(),
      return: () => {
        onReturn();
        this.end(true);
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
