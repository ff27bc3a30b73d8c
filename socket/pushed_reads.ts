/**
 * Turns a transport that pushes data (`node:net`'s "data" events, Bun's
 * socket handlers) into the pull reads a {@linkcode ByteConn} offers: pushed
 * chunks wait here until `read()` copies them into the caller's buffer, and
 * the transport is paused while more than a high-water mark waits, so TCP
 * flow control still reaches the peer. A reader may also take chunks as
 * they come, inside the push ({@linkcode DirectReads}), with no promise
 * per read.
 *
 * @module
 */

import { Fifo } from "../protocol/fifo.ts";
import { DEFAULTS } from "../defaults.ts";

/** How the transport is told to stop and go on pushing. */
export interface PushFlow {
  /** Stop pushing data. */
  pause(): void;
  /** Push data again. */
  resume(): void;
}

/**
 * A connection whose reads need no buffer from the reader
 * (`socket/reader.ts`): the bytes it was pushed are copied into a buffer
 * lent from a pool shared by every connection, so a connection holds no
 * read buffer while it waits.
 */
export interface ChunkReads {
  /**
   * The next bytes, at most `limit` of them, in a lent buffer that is the
   * caller's until {@linkcode ChunkReads.releaseChunk}.
   *
   * @param limit the most bytes to return
   * @returns the bytes, or null at the end
   */
  readChunk(limit: number): Promise<Uint8Array | null>;
  /** Gives back the buffer of the last chunk read: the caller is done
   * with its bytes (it copied what it keeps). */
  releaseChunk(): void;
}

/**
 * Whether `conn` offers {@linkcode ChunkReads}.
 *
 * @param conn a connection
 * @returns true when it reads into lent buffers
 */
export function readsChunks<T extends object>(conn: T): conn is T & ChunkReads {
  return typeof (conn as Partial<ChunkReads>).readChunk === "function";
}

/** Bytes of a lent read buffer: the most one read returns. */
const LENT_BUFFER_BYTES = DEFAULTS.limits.maxReadBufferSize;

/** Lent buffers of {@linkcode LENT_BUFFER_BYTES} there may be at once: 16
 * (1 MiB). A read served while all are out (reads served before their
 * readers ran, as `node:net` in Deno does for many sockets at a time) gets
 * a buffer of its own, of the size it needs. */
const MAX_LENT_BUFFERS = 16;

/** Lent buffers given back, shared by every connection. */
const idleLentBuffers: Uint8Array[] = [];

/** Lent buffers in existence, idle or out. */
let lentBufferCount = 0;

/**
 * A connection that hands its pushed chunks to the reader as they come,
 * synchronously, while the reader waits for them.
 */
export interface DirectReads {
  /**
   * From now on, a chunk pushed while a read waits and nothing is queued
   * goes to `take` instead of settling the read. `take` returns false
   * when the reader must look at its state: the waiting read then
   * settles with no bytes.
   *
   * @param take called with each chunk, which the caller copies to keep
   */
  readDirect(take: (chunk: Uint8Array) => boolean): void;
}

/**
 * Whether `conn` offers {@linkcode DirectReads}.
 *
 * @param conn a connection
 * @returns true when it can hand chunks over as they come
 */
export function readsDirect<T extends object>(
  conn: T,
): conn is T & DirectReads {
  return typeof (conn as Partial<DirectReads>).readDirect === "function";
}

/** What a chunk read settles with when the reader must look up. */
const EMPTY_CHUNK = new Uint8Array(0);

/** The settling function of no read. */
function ignore(): void {}

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
  /** Whether a read waits; its buffer, limit and settling functions are
   * the four fields below (no object per read). */
  #waiting = false;
  /** Where the waiting read copies to (`read`), or null to hand out a
   * lent buffer (`readChunk`). */
  #waitingBuffer: Uint8Array | null = null;
  /** The most bytes the waiting read returns. */
  #waitingLimit = 0;
  #resolve: (result: number | Uint8Array | null) => void = ignore;
  #reject: (error: Error) => void = ignore;
  /** Takes the settling functions of a read's promise: made once per
   * connection rather than once per read. */
  readonly #takeSettlers = (
    resolve: (result: number | Uint8Array | null) => void,
    reject: (error: Error) => void,
  ): void => {
    this.#resolve = resolve;
    this.#reject = reject;
  };
  /** Where chunks go as they come (see {@linkcode DirectReads}). */
  #direct: ((chunk: Uint8Array) => boolean) | null = null;
  /** The buffer of the last `readChunk`, until given back. */
  #lent: Uint8Array | null = null;
  /** Whether {@linkcode PushedReads.#lent} came from the shared pool (it
   * goes back there) rather than being made for one read. */
  #lentPooled = false;

  /**
   * @param highWater bytes waiting past which the transport is paused
   * @param flow pauses and resumes the transport
   */
  constructor(highWater: number, flow: PushFlow) {
    this.#highWater = highWater;
    this.#flow = flow;
  }

  /**
   * The transport pushed bytes; they are kept, not copied, until read, so
   * the transport must not reuse their memory (`node:net`'s and Bun's
   * chunks are arrays of their own).
   *
   * @param chunk the bytes
   * @param reused whether the transport reuses the chunk's memory once
   * this returns (it is then copied if it must wait)
   */
  push(chunk: Uint8Array, reused = false): void {
    if (chunk.length === 0 || this.#closed) return;
    const direct = this.#direct;
    if (direct !== null && this.#waiting && this.#queuedBytes === 0) {
      if (!direct(chunk) && this.#waiting) {
        const resolve = this.#resolve;
        const buffer = this.#waitingBuffer;
        this.#stopWaiting();
        resolve(buffer === null ? EMPTY_CHUNK : 0);
      }
      return;
    }
    this.#chunks.push(reused ? chunk.slice() : chunk);
    this.#queuedBytes += chunk.length;
    this.#serve();
    if (this.#queuedBytes > this.#highWater && !this.#paused) {
      this.#paused = true;
      this.#flow.pause();
    }
  }

  /** See {@linkcode DirectReads.readDirect}. */
  readDirect(take: (chunk: Uint8Array) => boolean): void {
    this.#direct = take;
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
    this.releaseChunk();
    if (this.#waiting) {
      const reject = this.#reject;
      this.#stopWaiting();
      reject(new Error("the connection is closed"));
    }
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
   * Reads into a lent buffer, as {@linkcode ChunkReads.readChunk} does.
   *
   * @param limit the most bytes to return
   * @returns the bytes, or null at the end
   */
  readChunk(limit: number): Promise<Uint8Array | null> {
    return this.#wait(null, limit) as Promise<Uint8Array | null>;
  }

  /** See {@linkcode ChunkReads.releaseChunk}. */
  releaseChunk(): void {
    const lent = this.#lent;
    this.#lent = null;
    if (lent !== null && this.#lentPooled) idleLentBuffers.push(lent);
  }

  #wait(
    buffer: Uint8Array | null,
    limit: number,
  ): Promise<number | Uint8Array | null> {
    if (this.#closed) {
      return Promise.reject(new Error("the connection is closed"));
    }
    if (this.#waiting) {
      return Promise.reject(new Error("a read is already pending"));
    }
    const promise = new Promise(this.#takeSettlers);
    this.#waiting = true;
    this.#waitingBuffer = buffer;
    this.#waitingLimit = limit;
    this.#serve();
    return promise;
  }

  /** Ends the wait of the read in progress. */
  #stopWaiting(): void {
    this.#waiting = false;
    this.#waitingBuffer = null;
    this.#resolve = ignore;
    this.#reject = ignore;
  }

  /** Fills the waiting read from what was pushed, if anything. */
  #serve(): void {
    if (!this.#waiting) return;
    const resolve = this.#resolve;
    if (this.#queuedBytes > 0) {
      const buffer = this.#waitingBuffer;
      const limit = this.#waitingLimit;
      this.#stopWaiting();
      resolve(buffer === null ? this.#takeChunk(limit) : this.#take(buffer));
      if (this.#paused && this.#queuedBytes <= this.#highWater) {
        this.#paused = false;
        this.#flow.resume();
      }
    } else if (this.#error !== null) {
      const reject = this.#reject;
      this.#stopWaiting();
      reject(this.#error);
    } else if (this.#ended) {
      this.#stopWaiting();
      resolve(null);
    }
  }

  /** Copies queued bytes, at most `limit`, into a lent buffer; returns a
   * view of what was copied. */
  #takeChunk(limit: number): Uint8Array {
    this.releaseChunk();
    let lent = idleLentBuffers.pop();
    if (lent === undefined && lentBufferCount < MAX_LENT_BUFFERS) {
      lentBufferCount++;
      lent = new Uint8Array(LENT_BUFFER_BYTES);
    }
    this.#lentPooled = lent !== undefined;
    lent ??= new Uint8Array(
      Math.min(this.#queuedBytes, limit, LENT_BUFFER_BYTES),
    );
    this.#lent = lent;
    return lent.subarray(0, this.#take(lent, limit));
  }

  /** Copies queued bytes into `buffer`, at most `limit`; returns how many. */
  #take(buffer: Uint8Array, limit = buffer.length): number {
    let filled = 0;
    const chunks = this.#chunks;
    const end = Math.min(limit, buffer.length);
    while (filled < end && chunks.length > 0) {
      const chunk = chunks.at(0)!;
      const start = this.#firstOffset;
      const count = Math.min(chunk.length - start, end - filled);
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
