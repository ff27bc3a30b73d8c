/**
 * The reading half of a socket's connection: one read at a time into a
 * buffer (fixed, or adaptive: growing while reads fill it, past
 * `DEFAULTS.limits.largeReadBufferFrom` only for a frame larger than it or
 * within a process-wide budget, and shrinking when reads use little of
 * it), or, from a connection that was pushed its bytes
 * (`ChunkReads`), into a buffer it lends for the time the socket takes the
 * chunk, with no buffer here; or, from one that offers `DirectReads`, inside
 * its push while a read waits; each chunk handed to the socket, with reading
 * paused whenever the socket says so (a slow `for await` loop, writes
 * backing up), so a peer is slowed down by TCP
 * flow control instead of growing memory.
 *
 * A connection the socket failed is ended with `lingerThenClose`
 * (`linger.ts`), the reader supplying the reads, so a peer still sending
 * does not get a TCP reset that destroys the close frame.
 *
 * @module
 */

import { lingerThenClose } from "./linger.ts";
import type { ByteConn } from "./transport.ts";
import { type ChunkReads, readsChunks, readsDirect } from "./pushed_reads.ts";
import { DEFAULTS } from "../defaults.ts";

/** Reads in a row that use less than a quarter of an adaptive read buffer
 * (with the frame in progress) before it is halved: 8. */
const SMALL_READS_BEFORE_SHRINK = 8;

/** Adaptive buffers are rounded to this many bytes when they grow past
 * `DEFAULTS.limits.largeReadBufferFrom` by a quarter: 4 KiB. */
const LARGE_READ_BUFFER_STEP = 4096;

/** Bytes held now by adaptive read buffers larger than
 * `DEFAULTS.limits.largeReadBufferFrom`, in the whole process. */
let largeReadBufferBytes = 0;

/** Counts a buffer of `size` bytes in (1) or out (-1) of
 * {@linkcode largeReadBufferBytes}. */
function countLargeBuffer(size: number, sign: 1 | -1): void {
  if (size > DEFAULTS.limits.largeReadBufferFrom) {
    largeReadBufferBytes += sign * size;
  }
}

/**
 * Bytes held now by the adaptive read buffers larger than
 * `DEFAULTS.limits.largeReadBufferFrom` in this process (what
 * `DEFAULTS.limits.largeReadBuffersBudget` bounds for small frames).
 *
 * @returns the bytes
 */
export function largeReadBuffersHeld(): number {
  return largeReadBufferBytes;
}

/** The buffer of a reader whose connection hands out its own chunks. */
const EMPTY = new Uint8Array(0);

/** What a {@linkcode SocketReader} asks of and reports to its socket. */
export interface SocketReaderHooks {
  /** Bytes arrived; the buffer is reused for the next read. */
  readerData(chunk: Uint8Array): void;
  /** The peer ended its sending side. */
  readerEnd(): void;
  /** A read failed while the socket was open. */
  readerError(error: unknown): void;
  /**
   * A promise to wait for before the next read, or null to read now. The
   * socket must settle it when it closes.
   */
  readerPause(): Promise<void> | null;
  /** Whether the socket is closed: reading stops (or lingers). */
  readerClosed(): boolean;
  /**
   * Bytes the frame in progress still needs once a chunk was taken (0
   * between frames): an adaptive buffer that is smaller doubles, budget or
   * not. Without it every frame counts as small.
   */
  readerFrameBytesMissing?(): number;
}

/** Reads a connection for a socket until the socket closes. */
export class SocketReader {
  readonly #conn: ByteConn;
  /** The connection, when it hands out its chunks (no buffer here). */
  readonly #chunkConn: (ByteConn & ChunkReads) | null;
  readonly #adaptive: boolean;
  /** Most bytes a read returns: the buffer's size, for a chunk conn. */
  readonly #limit: number;
  #buffer: Uint8Array;
  #smallReads = 0;
  /** The last chunk handed out, a view of {@linkcode SocketReader.#buffer}. */
  #view: Uint8Array | null = null;
  readonly #hooks: SocketReaderHooks;
  #running = false;
  #peerEnded = false;
  #lingering = false;
  #connClosed = false;
  /** Settles when the read loop has ended. */
  #stopped: Promise<void> | undefined;
  /** Created when finish() asks for it. */
  #connClosedSignal: PromiseWithResolvers<void> | null = null;

  /**
   * @param conn the connection
   * @param bufferSize bytes per read, or 0 for the adaptive buffer
   * @param hooks where chunks go and when to pause
   */
  constructor(conn: ByteConn, bufferSize: number, hooks: SocketReaderHooks) {
    this.#conn = conn;
    this.#chunkConn = readsChunks(conn) ? conn : null;
    this.#adaptive = bufferSize === 0 && this.#chunkConn === null;
    this.#limit = bufferSize === 0
      ? DEFAULTS.limits.maxReadBufferSize
      : bufferSize;
    this.#buffer = this.#chunkConn !== null ? EMPTY : new Uint8Array(
      this.#adaptive ? DEFAULTS.limits.initialReadBufferSize : bufferSize,
    );
    this.#hooks = hooks;
  }

  /** Takes a chunk handed over as it came; false to wake the loop. */
  readonly #takeDirect = (chunk: Uint8Array): boolean => {
    const hooks = this.#hooks;
    if (hooks.readerClosed()) return false;
    try {
      hooks.readerData(chunk);
    } catch (error) {
      this.#directError = error;
      return false;
    }
    return !hooks.readerClosed() && hooks.readerPause() === null;
  };
  /** What the socket's data hook threw inside a direct read, for the
   * read loop to fail with. */
  #directError: unknown = null;

  /** Starts reading; call once. */
  start(): void {
    const conn = this.#conn;
    if (readsDirect(conn)) conn.readDirect(this.#takeDirect);
    this.#running = true;
    this.#stopped = this.#run();
  }

  /**
   * Ends the connection once the socket is closed: at once, or, with
   * `linger`, after ending our sending side and discarding what the peer
   * still sends (bounded by `DEFAULTS.limits.lingerTimeout` and
   * `DEFAULTS.limits.lingerMaxBytes`). Lingering is skipped when the peer
   * already ended its side, reading is not running, or the connection has
   * no `closeWrite`.
   *
   * @param linger whether to linger
   * @returns a promise that resolves (never rejects) once the connection
   * is closed
   */
  finish(linger: boolean): Promise<void> {
    const conn = this.#conn;
    if (
      !linger || this.#peerEnded || !this.#running || this.#connClosed ||
      typeof conn.closeWrite !== "function"
    ) {
      this.#closeConn();
    } else {
      this.#lingering = true;
      void lingerThenClose(
        conn,
        () => this.#readToDiscard(),
        () => this.#closeConn(),
      );
    }
    if (this.#connClosedSignal === null) {
      this.#connClosedSignal = Promise.withResolvers<void>();
      if (this.#connClosed) this.#connClosedSignal.resolve();
    }
    return this.#connClosedSignal.promise;
  }

  /** One async frame per connection while it waits for bytes: the loop
   * is inline rather than a second awaited method. */
  async #run(): Promise<void> {
    const hooks = this.#hooks;
    const chunkConn = this.#chunkConn;
    try {
      while (!hooks.readerClosed()) {
        const pause = hooks.readerPause();
        if (pause !== null) {
          await pause;
          continue;
        }
        let chunk: Uint8Array | null;
        if (chunkConn !== null) {
          chunk = await chunkConn.readChunk(this.#limit);
        } else {
          const count = await this.#conn.read(this.#buffer);
          chunk = count === null ? null : this.#chunk(count);
        }
        if (this.#directError !== null) throw this.#directError;
        if (chunk === null) this.#peerEnded = true;
        if (hooks.readerClosed()) break;
        if (chunk === null) {
          hooks.readerEnd();
          break;
        }
        // The socket copies whatever it keeps, so a buffer is reused.
        if (chunk.length > 0) hooks.readerData(chunk);
        if (chunkConn !== null) chunkConn.releaseChunk();
        else if (this.#adaptive) this.#resize(chunk.length);
      }
    } catch (error) {
      if (!hooks.readerClosed()) hooks.readerError(error);
    } finally {
      this.#running = false;
      if (hooks.readerClosed() && !this.#lingering) this.#closeConn();
    }
  }

  /** The first `count` bytes of the buffer: the view of the previous read
   * when it had the same length (steady traffic allocates no view). */
  #chunk(count: number): Uint8Array {
    let view = this.#view;
    if (view === null || view.length !== count) {
      view = this.#buffer.subarray(0, count);
      this.#view = view;
    }
    return view;
  }

  /**
   * After a read of `count` bytes: an adaptive buffer that the read filled
   * doubles when the frame in progress still needs more than it holds (a
   * large message; doubling, not what the header announced, so memory
   * follows the bytes that arrived); else it doubles up to
   * `DEFAULTS.limits.largeReadBufferFrom` and grows by a quarter past it,
   * while the process's buffers past that size hold under
   * `DEFAULTS.limits.largeReadBuffersBudget` (small messages pipelined).
   * It halves after {@linkcode SMALL_READS_BEFORE_SHRINK} reads in a row
   * that, with what the frame in progress still needs, used less than a
   * quarter of it, never below the initial size.
   */
  #resize(count: number): void {
    const size = this.#buffer.length;
    const limits = DEFAULTS.limits;
    const missing = this.#hooks.readerFrameBytesMissing?.() ?? 0;
    if (count === size) {
      this.#smallReads = 0;
      if (size >= limits.maxReadBufferSize) return;
      if (missing > size) {
        this.#replaceBuffer(Math.min(size * 2, limits.maxReadBufferSize));
        return;
      }
      const grown = grownSize(size);
      const counted = size > limits.largeReadBufferFrom ? size : 0;
      if (
        grown <= limits.largeReadBufferFrom ||
        largeReadBufferBytes - counted + grown <= limits.largeReadBuffersBudget
      ) {
        this.#replaceBuffer(grown);
      }
    } else if (
      count + missing < size / 4 && size > limits.initialReadBufferSize
    ) {
      if (++this.#smallReads < SMALL_READS_BEFORE_SHRINK) return;
      this.#replaceBuffer(Math.max(size / 2, limits.initialReadBufferSize));
    } else {
      this.#smallReads = 0;
    }
  }

  /** A new adaptive buffer of `size` bytes, counted in the budget. */
  #replaceBuffer(size: number): void {
    if (this.#connClosed) return;
    countLargeBuffer(this.#buffer.length, -1);
    countLargeBuffer(size, 1);
    this.#buffer = new Uint8Array(size);
    this.#view = null;
    this.#smallReads = 0;
  }

  /** A read for lingering, once the read loop (and its read) ended. */
  async #readToDiscard(): Promise<number | null> {
    await this.#stopped;
    if (this.#peerEnded || this.#connClosed) return null;
    if (this.#chunkConn !== null) {
      const chunk = await this.#chunkConn.readChunk(this.#limit);
      this.#chunkConn.releaseChunk();
      return chunk === null ? null : chunk.length;
    }
    return await this.#conn.read(this.#buffer);
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    if (this.#adaptive) countLargeBuffer(this.#buffer.length, -1);
    try {
      this.#conn.close();
    } catch {
      // Already closed: nothing left to release.
    }
    this.#connClosedSignal?.resolve();
  }

  /**
   * Closes the connection now, reading or not (a socket that never
   * started reading, or one cut short).
   */
  close(): void {
    this.#closeConn();
  }
}

/** The next adaptive size for small frames after `size` filled a read:
 * double up to `DEFAULTS.limits.largeReadBufferFrom`, then a quarter more
 * (rounded up to {@linkcode LARGE_READ_BUFFER_STEP}), never past the
 * maximum. */
function grownSize(size: number): number {
  const limits = DEFAULTS.limits;
  const grown = size < limits.largeReadBufferFrom
    ? Math.min(size * 2, limits.largeReadBufferFrom)
    : Math.ceil(size * 1.25 / LARGE_READ_BUFFER_STEP) * LARGE_READ_BUFFER_STEP;
  return Math.min(grown, limits.maxReadBufferSize);
}
