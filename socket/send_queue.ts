/**
 * Keeps sends in call order when one of them takes time: reading a Blob,
 * or compressing a message (permessage-deflate, RFC 7692) are asynchronous,
 * so such a message and everything sent after it (smaller messages that go
 * out uncompressed, pub/sub frames, the close frame) wait here; each is
 * handed on once everything before it was.
 *
 * @module
 */

import { deflateMessage } from "../deflate/payload.ts";
import { utf8ByteLength } from "../frame/utf8.ts";

const textEncoder = new TextEncoder();

/** A message ready to be framed (or the close that follows the messages). */
export type OutgoingMessage =
  | { kind: "text"; data: string }
  | { kind: "binary"; data: Uint8Array }
  /** A deflated message, for one frame with RSV1 set. */
  | { kind: "compressed"; messageType: "text" | "binary"; data: Uint8Array }
  /** One frame encoded once for many sockets (pub/sub); never copied. */
  | { kind: "encoded"; data: Uint8Array }
  | { kind: "close"; code: number | undefined; reason: string };

/** What `send` accepts, before a Blob is read. */
export type SendItem = OutgoingMessage | { kind: "blob"; data: Blob };

/**
 * Turns what `WebSocket.send` accepts into a {@linkcode SendItem}, without
 * copying. Anything that is not binary is sent as its string form, as
 * WebIDL's USVString conversion does.
 *
 * @param data the argument to `send`
 * @returns the message
 */
export function toSendItem(
  data: string | ArrayBufferLike | ArrayBufferView | Blob,
): SendItem {
  if (typeof data === "string") return { kind: "text", data };
  if (typeof Blob !== "undefined" && data instanceof Blob) {
    return { kind: "blob", data };
  }
  if (ArrayBuffer.isView(data)) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { kind: "binary", data: bytes };
  }
  if (
    data instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" &&
      data instanceof SharedArrayBuffer)
  ) {
    return { kind: "binary", data: new Uint8Array(data) };
  }
  return { kind: "text", data: String(data) };
}

/**
 * The size in bytes a message adds to `bufferedAmount` (text as UTF-8).
 *
 * @param item the message
 * @returns its payload size
 */
export function sendItemSize(item: SendItem): number {
  switch (item.kind) {
    case "text":
      return utf8ByteLength(item.data);
    case "binary":
    case "compressed":
    case "encoded":
      return item.data.length;
    case "blob":
      return item.data.size;
    case "close":
      return 0;
  }
}

/** What {@linkcode SendQueue} reports to its owner. */
export interface SendQueueCallbacks {
  /** The next message, in order. */
  sendQueueDeliver(message: OutgoingMessage): void;
  /**
   * Reading a Blob or compressing a message failed; the queue is empty now.
   * `reason` says which, for a close frame.
   */
  sendQueueError(error: unknown, reason: string): void;
  /** Every queued item was delivered. */
  sendQueueEmpty(): void;
}

/**
 * A FIFO of sends that waits for each Blob to be read and each message to
 * be compressed, in order.
 */
export class SendQueue {
  readonly #callbacks: SendQueueCallbacks;
  #items: SendItem[] = [];
  #bytes = 0;
  /** Smallest message compressed; Infinity while compression is off. */
  #threshold = Infinity;

  /** @param callbacks where messages and failures go */
  constructor(callbacks: SendQueueCallbacks) {
    this.#callbacks = callbacks;
  }

  /** Payload bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether anything waits; while true, later sends must queue too. */
  get busy(): boolean {
    return this.#items.length > 0;
  }

  /**
   * Compresses every text or binary message (a Blob once read) of at least
   * `threshold` bytes (UTF-8 bytes for text) from now on. A message whose
   * compressed form is not smaller goes out uncompressed. Pre-encoded
   * frames (`"encoded"`) are never compressed.
   *
   * @param threshold 0 compresses every message
   * @throws {RangeError} when `threshold` is not a non-negative safe integer
   */
  compressFrom(threshold: number): void {
    if (!Number.isSafeInteger(threshold) || threshold < 0) {
      throw new RangeError(
        `the compression threshold must be a non-negative safe integer, got ${threshold}`,
      );
    }
    this.#threshold = threshold;
  }

  /**
   * Whether `item` will be compressed, so it must go through the queue even
   * when nothing waits (as a Blob must).
   *
   * @param item the message
   * @returns true for a text or binary message at or above the threshold
   */
  willCompress(item: SendItem): boolean {
    return this.#compresses(item);
  }

  /**
   * Queues a send. Binary data is copied now, as `send` captures its
   * argument at call time.
   *
   * @param item the message
   */
  push(item: SendItem): void {
    if (item.kind === "binary") {
      item = { kind: "binary", data: item.data.slice() };
    }
    this.#items.push(item);
    this.#bytes += sendItemSize(item);
    if (this.#items.length === 1) {
      this.#pump().catch((error) => {
        this.clear();
        this.#callbacks.sendQueueError(error, "could not send a message");
      });
    }
  }

  /**
   * Drops everything waiting.
   *
   * @returns the payload bytes dropped
   */
  clear(): number {
    const dropped = this.#bytes;
    this.#items = [];
    this.#bytes = 0;
    return dropped;
  }

  #compresses(item: SendItem): item is CompressibleMessage {
    if (item.kind === "text") {
      // Counting is cheaper than encoding, and most text is below the
      // threshold when there is one.
      return this.#threshold === 0 ||
        (this.#threshold !== Infinity &&
          utf8ByteLength(item.data) >= this.#threshold);
    }
    return item.kind === "binary" && item.data.length >= this.#threshold;
  }

  async #pump(): Promise<void> {
    const items = this.#items;
    while (items.length > 0 && this.#items === items) {
      const item = items[0];
      let message: OutgoingMessage;
      let step = "could not read a Blob";
      try {
        if (item.kind === "blob") {
          const bytes = new Uint8Array(await item.data.arrayBuffer());
          message = { kind: "binary", data: bytes };
        } else {
          message = item;
        }
        if (this.#items === items && this.#compresses(message)) {
          step = "could not compress a message";
          message = await compress(message);
        }
      } catch (error) {
        if (this.#items !== items) return;
        this.clear();
        this.#callbacks.sendQueueError(error, step);
        return;
      }
      if (this.#items !== items) return;
      items.shift();
      this.#bytes -= sendItemSize(item);
      this.#callbacks.sendQueueDeliver(message);
    }
    if (this.#items === items) this.#callbacks.sendQueueEmpty();
  }
}

/** A message {@linkcode compress} takes. */
type CompressibleMessage = Extract<
  OutgoingMessage,
  { kind: "text" } | { kind: "binary" }
>;

/** The message deflated, or as it was when deflating does not shrink it. */
async function compress(
  message: CompressibleMessage,
): Promise<OutgoingMessage> {
  const bytes = message.kind === "text"
    ? textEncoder.encode(message.data)
    : message.data;
  const deflated = await deflateMessage(bytes);
  if (deflated.length >= bytes.length) return message;
  return { kind: "compressed", messageType: message.kind, data: deflated };
}
