/**
 * The sending half of a socket: messages go through the send FIFO (Blobs
 * keep their place, see `send_queue.ts`), are framed (and compressed) by
 * the protocol, and wait in the write queue until the connection took
 * them. This module counts what waits (`bufferedAmount`, the
 * `maxQueuedBytes` cap), what was dropped, and tells waiters when the
 * queue drains or falls below a mark.
 *
 * @module
 */

import type { Protocol } from "../protocol/protocol.ts";
import { type FrameAllocator, pooledFrames } from "../frame/pool.ts";
import {
  type OutgoingMessage,
  type SendItem,
  sendItemSize,
  SendQueue,
  type SendQueueCallbacks,
} from "./send_queue.ts";
import {
  type ByteWriter,
  WriteQueue,
  type WriteQueueCallbacks,
} from "./write_queue.ts";

/** What an {@linkcode Outbound} reports to its socket. */
export interface OutboundHooks {
  /** Reading a Blob failed; `reason` says so. */
  sendFailed(error: unknown, reason: string): void;
  /** A write failed: the connection is broken. */
  writeFailed(error: unknown): void;
  /** The writer went idle or the send FIFO emptied: maybe end now. */
  outboundIdle(): void;
}

/** A waiter for the queue to fall to a mark. */
interface MarkWaiter {
  mark: number;
  resolve: () => void;
}

/** The outgoing messages and bytes of one socket. */
export class Outbound implements SendQueueCallbacks, WriteQueueCallbacks {
  /** Frames the messages; given at attach. */
  #protocol: Protocol | null = null;
  readonly #maxQueuedBytes: number;
  readonly #hooks: OutboundHooks;
  readonly #sends: SendQueue;
  #writer: WriteQueue | null = null;
  /** Bytes of sends dropped after closing began or never written. */
  #discardedBytes = 0;
  /** Bytes the connection took so far. */
  #writtenBytes = 0;
  /** Made by the first wait (most sockets never wait). */
  #drainWaiters: Array<() => void> | null = null;
  #markWaiters: MarkWaiter[] | null = null;

  /**
   * @param maxQueuedBytes the cap {@linkcode send} checks
   * @param hooks where failures and idleness go
   */
  constructor(maxQueuedBytes: number, hooks: OutboundHooks) {
    this.#maxQueuedBytes = maxQueuedBytes;
    this.#hooks = hooks;
    this.#sends = new SendQueue(this);
  }

  /** Bytes sent (with frame headers) and not yet taken by the connection. */
  get queuedBytes(): number {
    return (this.#writer?.bufferedAmount ?? 0) + this.#sends.bytes;
  }

  /** {@linkcode queuedBytes} plus every byte dropped: `bufferedAmount`. */
  get bufferedAmount(): number {
    return this.queuedBytes + this.#discardedBytes;
  }

  /** Bytes the connection took so far: grows while the peer reads. */
  get writtenBytes(): number {
    return this.#writtenBytes;
  }

  /** Whether every byte queued so far is written (false before attach). */
  get flushed(): boolean {
    return !this.#sends.busy && this.#writer !== null && this.#writer.idle;
  }

  /**
   * Starts framing with `protocol` and writing to the connection. Nothing is
   * sent before: sends need an open socket, and a `close()` before the
   * connection is scheduled by the socket.
   *
   * @param writer the connection
   * @param protocol the connection's protocol
   * @param frames the allocator `protocol` encodes frames with, given each
   * frame back once written; with {@linkcode pooledFrames} (a writer done
   * with the bytes once a write settles), small frames are encoded straight
   * into the write queue's run of the shared slab
   */
  attach(writer: ByteWriter, protocol: Protocol, frames: FrameAllocator): void {
    this.#protocol = protocol;
    const queue = new WriteQueue(writer, this, frames);
    this.#writer = queue;
    if (frames === pooledFrames) protocol.setFrameSink(queue);
  }

  /**
   * Counts a send that is dropped (the socket is closing) in
   * `bufferedAmount`.
   *
   * @param item the message
   */
  discard(item: SendItem): void {
    this.#discardedBytes += sendItemSize(item);
  }

  /**
   * Queues a send in call order.
   *
   * @param item the message
   * @returns false, queueing nothing, when more than `maxQueuedBytes` were
   * already waiting (the socket must fail the connection): whatever the
   * application sends at once fits as long as the queue was under the cap
   * when each message was sent
   */
  send(item: SendItem): boolean {
    if (this.queuedBytes > this.#maxQueuedBytes) return false;
    if (item.kind === "blob" || this.#sends.busy) this.#sends.push(item);
    else this.sendNow(item);
    return true;
  }

  /**
   * Queues the close frame after every message sent before it.
   *
   * @param code the close code, or undefined for an empty close frame
   * @param reason the close reason
   */
  close(code: number | undefined, reason: string): void {
    const message: OutgoingMessage = { kind: "close", code, reason };
    if (this.#sends.busy) this.#sends.push(message);
    else this.sendNow(message);
  }

  /**
   * Frames a message now and hands it to the writer.
   *
   * @param message the message
   */
  sendNow(message: OutgoingMessage): void {
    const protocol = this.#protocol;
    if (protocol === null) return; // not attached: see attach()
    if (message.kind !== "close" && protocol.closeSent) {
      // The peer's close frame came in the same read as the message being
      // handled: its echo is queued and nothing may follow it. Dropped, as
      // sends after close() are.
      this.#discardedBytes += sendItemSize(message);
      return;
    }
    if (message.kind === "text") {
      protocol.sendText(message.data, message);
    } else if (message.kind === "binary") {
      protocol.sendBinary(message.data, message);
    } else if (message.kind === "encoded") {
      protocol.sendEncodedFrame(message.data);
    } else protocol.close(message.code, message.reason);
    this.flush();
  }

  /** Hands whatever the protocol queued (pongs, close echoes) to the writer. */
  flush(): void {
    const protocol = this.#protocol;
    const writer = this.#writer;
    if (protocol === null || writer === null) return;
    for (
      let frame = protocol.takeOutgoingFrame();
      frame !== undefined;
      frame = protocol.takeOutgoingFrame()
    ) {
      writer.pushChunk(frame);
    }
  }

  /**
   * Holds writes back until {@linkcode release} (see `WriteQueue.hold`):
   * the socket's replies to one read go out in one write started at its
   * end.
   */
  hold(): void {
    this.#writer?.hold();
  }

  /** Hands what the protocol queued to the writer and ends a
   * {@linkcode hold}: the write starts now. */
  release(): void {
    this.flush();
    this.#writer?.release();
  }

  /** Drops the sends not yet framed (the peer closed: nothing may follow). */
  dropPending(): void {
    this.#discardedBytes += this.#sends.clear();
    this.#wakeMarkWaiters();
  }

  /**
   * Drops everything not yet handed to the connection; the frame being
   * written is finished. Used before a failure's close frame.
   */
  dropUnwritten(): void {
    this.#discardedBytes += this.#writer?.discardQueued() ?? 0;
    this.#wakeMarkWaiters();
  }

  /** Stops for good: drops everything and releases every waiter. */
  closeAll(): void {
    this.#discardedBytes += this.#sends.clear() + (this.#writer?.close() ?? 0);
    this.#resolveDrained();
    this.#wakeMarkWaiters(true);
  }

  /**
   * Resolves once nothing waits to be written, or {@linkcode closeAll}.
   *
   * @returns a promise that never rejects
   */
  drained(): Promise<void> {
    if (this.queuedBytes === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drainWaiters ??= []).push(resolve));
  }

  /**
   * Resolves once at most `mark` bytes wait, or {@linkcode closeAll}.
   *
   * @param mark the level to fall to
   * @returns a promise that never rejects
   */
  whenAtMost(mark: number): Promise<void> {
    if (this.queuedBytes <= mark) return Promise.resolve();
    return new Promise((resolve) =>
      (this.#markWaiters ??= []).push({ mark, resolve })
    );
  }

  /** SendQueue: the next message in order. */
  sendQueueDeliver(message: OutgoingMessage): void {
    this.sendNow(message);
  }

  /** SendQueue: reading a Blob failed. */
  sendQueueError(error: unknown, reason: string): void {
    this.#hooks.sendFailed(error, reason);
  }

  /** SendQueue: every queued item was delivered. */
  sendQueueEmpty(): void {
    this.#onIdle();
  }

  /** WriteQueue: every queued byte was written. */
  writeIdle(): void {
    this.#onIdle();
  }

  /** WriteQueue: a write failed. */
  writeError(error: unknown): void {
    this.#hooks.writeFailed(error);
  }

  /** WriteQueue: the connection took `count` bytes. */
  writeTaken(count: number): void {
    this.#writtenBytes += count;
    this.#wakeMarkWaiters();
  }

  #onIdle(): void {
    if (this.queuedBytes === 0) this.#resolveDrained();
    this.#wakeMarkWaiters();
    this.#hooks.outboundIdle();
  }

  #resolveDrained(): void {
    const waiters = this.#drainWaiters;
    if (waiters === null) return;
    this.#drainWaiters = null;
    for (const resolve of waiters) resolve();
  }

  #wakeMarkWaiters(all = false): void {
    const waiters = this.#markWaiters;
    if (waiters === null) return;
    const queued = this.queuedBytes;
    const waiting: MarkWaiter[] = [];
    for (const waiter of waiters) {
      if (all || queued <= waiter.mark) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#markWaiters = waiting.length === 0 ? null : waiting;
  }
}
