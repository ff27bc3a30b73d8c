/**
 * Keeps sends in call order when one of them takes time: reading a Blob is
 * asynchronous, so a Blob and everything sent after it (pub/sub frames,
 * the close frame) wait here; each is handed on once everything before it
 * was. Compression is not one of them: the protocol's extension compresses
 * synchronously as each message is framed.
 *
 * @module
 */

import { utf8ByteLength } from "../frame/utf8.ts";

/** A message ready to be framed (or the close that follows the messages).
 * `compress` is the per-message choice of `send(data, { compress })`. */
export type OutgoingMessage =
  | { kind: "text"; data: string; compress?: boolean }
  | { kind: "binary"; data: Uint8Array; compress?: boolean }
  /** One frame encoded once for many sockets (pub/sub); never copied. */
  | { kind: "encoded"; data: Uint8Array }
  | { kind: "close"; code: number | undefined; reason: string };

/** What `send` accepts, before a Blob is read. */
export type SendItem =
  | OutgoingMessage
  | { kind: "blob"; data: Blob; compress?: boolean };

/**
 * Turns what `WebSocket.send` accepts into a {@linkcode SendItem}, without
 * copying. Anything that is not binary is sent as its string form, as
 * WebIDL's USVString conversion does.
 *
 * @param data the argument to `send`
 * @param compress the per-message compression choice, if any
 * @returns the message
 */
export function toSendItem(
  data: string | ArrayBufferLike | ArrayBufferView | Blob,
  compress?: boolean,
): SendItem {
  if (typeof data === "string") return { kind: "text", data, compress };
  if (typeof Blob !== "undefined" && data instanceof Blob) {
    return { kind: "blob", data, compress };
  }
  if (ArrayBuffer.isView(data)) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { kind: "binary", data: bytes, compress };
  }
  if (
    data instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" &&
      data instanceof SharedArrayBuffer)
  ) {
    return { kind: "binary", data: new Uint8Array(data), compress };
  }
  return { kind: "text", data: String(data), compress };
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
   * Reading a Blob failed; the queue is empty now. `reason` is for a close
   * frame.
   */
  sendQueueError(error: unknown, reason: string): void;
  /** Every queued item was delivered. */
  sendQueueEmpty(): void;
}

/** A FIFO of sends that waits for each Blob to be read, in order. */
export class SendQueue {
  readonly #callbacks: SendQueueCallbacks;
  #items: SendItem[] = [];
  #bytes = 0;

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
   * Queues a send. Binary data is copied now, as `send` captures its
   * argument at call time.
   *
   * @param item the message
   */
  push(item: SendItem): void {
    if (item.kind === "binary") {
      item = {
        kind: "binary",
        data: item.data.slice(),
        compress: item.compress,
      };
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

  async #pump(): Promise<void> {
    const items = this.#items;
    while (items.length > 0 && this.#items === items) {
      const item = items[0];
      let message: OutgoingMessage;
      try {
        if (item.kind === "blob") {
          const bytes = new Uint8Array(await item.data.arrayBuffer());
          message = { kind: "binary", data: bytes, compress: item.compress };
        } else {
          message = item;
        }
      } catch (error) {
        if (this.#items !== items) return;
        this.clear();
        this.#callbacks.sendQueueError(error, "could not read a Blob");
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
