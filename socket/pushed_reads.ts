/**
 * Turns a transport that pushes data (`node:net`'s "data" events, Bun's
 * socket handlers) into the pull reads a {@linkcode ByteConn} offers: pushed
 * chunks wait here until `read()` copies them into the caller's buffer, and
 * the transport is paused while more than a high-water mark waits, so TCP
 * flow control still reaches the peer.
 *
 * @module
 */

import { Fifo } from "./fifo.ts";

/** How the transport is told to stop and go on pushing. */
export interface PushFlow {
  /** Stop pushing data. */
  pause(): void;
  /** Push data again. */
  resume(): void;
}

/**
 * A connection that can hand out the bytes it was pushed as they are, so
 * its reader needs no buffer of its own (`socket/reader.ts`).
 */
export interface ChunkReads {
  /**
   * The next bytes, at most `limit` of them, in an array the caller owns
   * (it may keep and modify it).
   *
   * @param limit the most bytes to return
   * @returns the bytes, or null at the end
   */
  readChunk(limit: number): Promise<Uint8Array | null>;
}

/**
 * Whether `conn` offers {@linkcode ChunkReads.readChunk}.
 *
 * @param conn a connection
 * @returns true when its pushed chunks can be read without a buffer
 */
export function readsChunks<T extends object>(conn: T): conn is T & ChunkReads {
  return typeof (conn as Partial<ChunkReads>).readChunk === "function";
}

/** A chunk whose memory is more than this many times its length is copied
 * before it is handed out, so a small read keeps no large buffer alive. */
const MAX_CHUNK_OVERHEAD = 2;

interface PendingRead {
  /** Where to copy (`read`), or null to hand out chunks (`readChunk`). */
  buffer: Uint8Array | null;
  /** The most bytes to return. */
  limit: number;
  resolve(result: number | Uint8Array | null): void;
  reject(error: Error): void;
}

/** The reading half of a push-based connection. */
export class PushedReads {
  readonly #highWater: number;
  readonly #flow: PushFlow;
  /** Chunks pushed and not yet read, the first maybe in part. */
  readonly #chunks = new Fifo<Uint8Array>();
  /** Bytes of the first chunk already read. */
  #firstOffset = 0;
  #queuedBytes = 0;
  #paused = false;
  #ended = false;
  #error: Error | null = null;
  #closed = false;
  #pending: PendingRead | null = null;

  /**
   * @param highWater bytes waiting past which the transport is paused
   * @param flow pauses and resumes the transport
   */
  constructor(highWater: number, flow: PushFlow) {
    this.#highWater = highWater;
    this.#flow = flow;
  }

  /**
   * The transport pushed bytes; they are kept, not copied, until read.
   *
   * @param chunk the bytes
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.#closed) return;
    this.#chunks.push(chunk);
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes > this.#highWater && !this.#paused) {
      this.#paused = true;
      this.#flow.pause();
    }
    this.#serve();
  }

  /** The peer ended its side: reads return what is left, then null. */
  end(): void {
    this.#ended = true;
    this.#serve();
  }

  /**
   * The transport failed: reads reject once what is left was read.
   *
   * @param error what went wrong
   */
  fail(error: Error): void {
    this.#error ??= error;
    this.#serve();
  }

  /** The connection was closed here: a pending read rejects. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(new Error("the connection is closed"));
  }

  /**
   * Reads into `buffer`, as `ByteConn.read` does.
   *
   * @param buffer where to put the bytes
   * @returns how many bytes were read, or null at the end
   */
  read(buffer: Uint8Array): Promise<number | null> {
    return this.#wait(buffer, buffer.length) as Promise<number | null>;
  }

  /**
   * Reads without a buffer, as {@linkcode ChunkReads.readChunk} does: the
   * first chunk pushed (what is left of it, at most `limit` bytes), or,
   * when several small ones wait, them joined into one array.
   *
   * @param limit the most bytes to return
   * @returns the bytes, or null at the end
   */
  readChunk(limit: number): Promise<Uint8Array | null> {
    return this.#wait(null, limit) as Promise<Uint8Array | null>;
  }

  #wait(
    buffer: Uint8Array | null,
    limit: number,
  ): Promise<number | Uint8Array | null> {
    if (this.#closed) {
      return Promise.reject(new Error("the connection is closed"));
    }
    if (this.#pending !== null) {
      return Promise.reject(new Error("a read is already pending"));
    }
    return new Promise((resolve, reject) => {
      this.#pending = { buffer, limit, resolve, reject };
      this.#serve();
    });
  }

  /** Fills the pending read from what was pushed, if anything. */
  #serve(): void {
    const pending = this.#pending;
    if (pending === null) return;
    if (this.#queuedBytes > 0) {
      this.#pending = null;
      pending.resolve(
        pending.buffer === null
          ? this.#takeChunk(pending.limit)
          : this.#take(pending.buffer),
      );
      if (this.#paused && this.#queuedBytes <= this.#highWater) {
        this.#paused = false;
        this.#flow.resume();
      }
    } else if (this.#error !== null) {
      this.#pending = null;
      pending.reject(this.#error);
    } else if (this.#ended) {
      this.#pending = null;
      pending.resolve(null);
    }
  }

  /** The first chunk's unread bytes, up to `limit`, as they are when it
   * owns its memory and more than one chunk does not fit; else a copy. */
  #takeChunk(limit: number): Uint8Array {
    const chunk = this.#chunks.at(0)!;
    const start = this.#firstOffset;
    const count = Math.min(chunk.length - start, limit);
    const alone = count === limit || this.#chunks.length === 1;
    if (alone && chunk.buffer.byteLength <= count * MAX_CHUNK_OVERHEAD) {
      if (start + count === chunk.length) {
        this.#chunks.shift();
        this.#firstOffset = 0;
      } else {
        this.#firstOffset = start + count;
      }
      this.#queuedBytes -= count;
      return start === 0 && count === chunk.length
        ? chunk
        : chunk.subarray(start, start + count);
    }
    const joined = new Uint8Array(Math.min(this.#queuedBytes, limit));
    this.#take(joined);
    return joined;
  }

  /** Copies queued bytes into `buffer`; returns how many. */
  #take(buffer: Uint8Array): number {
    let filled = 0;
    const chunks = this.#chunks;
    while (filled < buffer.length && chunks.length > 0) {
      const chunk = chunks.at(0)!;
      const start = this.#firstOffset;
      const count = Math.min(chunk.length - start, buffer.length - filled);
      buffer.set(
        count === chunk.length ? chunk : chunk.subarray(start, start + count),
        filled,
      );
      filled += count;
      if (start + count === chunk.length) {
        chunks.shift();
        this.#firstOffset = 0;
      } else {
        this.#firstOffset = start + count;
      }
    }
    this.#queuedBytes -= filled;
    return filled;
  }
}
