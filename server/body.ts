/**
 * The reading side of a server connection: a reader that can put bytes back
 * (what followed a head or a body belongs to the next message), and the
 * request body exposed to the handler as a `ReadableStream`.
 *
 * Uses no runtime-specific API.
 *
 * @module
 */

import { HttpError } from "../errors.ts";
import { concatBytes } from "../frame/bytes.ts";
import { type BodyDecoder, LengthBodyDecoder } from "../http1/body.ts";
import type { WriteAll } from "./response.ts";

/** What {@linkcode ConnReader.read} returns when its deadline passed first. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/** The reading half of a connection, as `Deno.Conn` provides it. */
export interface ReadableConn {
  /** Read into `buffer`; the byte count, or `null` at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Reads a connection through one reused buffer; bytes put back with
 * {@linkcode ConnReader.unread} are returned first. */
export class ConnReader {
  readonly #conn: ReadableConn;
  /** Null once released: the connection belongs to a WebSocket now. */
  #buffer: Uint8Array | null;
  #pending: Uint8Array | null = null;
  #unfinished: Promise<number | null> | undefined;

  /**
   * Read `conn` with a buffer of `bufferSize` bytes.
   *
   * @param conn the connection to read
   * @param bufferSize the most bytes one read returns
   */
  constructor(conn: ReadableConn, bufferSize: number) {
    this.#conn = conn;
    this.#buffer = new Uint8Array(bufferSize);
  }

  /** Whether bytes were put back and wait to be read. */
  get hasPending(): boolean {
    return this.#pending !== null;
  }

  /** Put `bytes` back (copied) to be returned by the next read. */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#pending === null) {
      this.#pending = bytes.slice();
      return;
    }
    this.#pending = concatBytes([this.#pending, bytes]);
  }

  /** Take every byte put back; an empty array when there are none. */
  takePending(): Uint8Array {
    const pending = this.#pending ?? new Uint8Array(0);
    this.#pending = null;
    return pending;
  }

  /**
   * Frees the read buffer once the connection was handed over (a WebSocket
   * reads it with its own), so an open WebSocket does not keep it. Reads
   * after this fail; put-back bytes must be taken first.
   */
  release(): void {
    this.#buffer = null;
  }

  /**
   * The next bytes: put-back bytes first, else one read of the connection.
   * The result is valid until the next call. `null` at end of stream;
   * {@linkcode TIMED_OUT} when `deadline` settled first (the read is left
   * running and the next call picks it up).
   */
  async read(
    deadline?: Promise<typeof TIMED_OUT>,
  ): Promise<Uint8Array | null | typeof TIMED_OUT> {
    if (this.#pending !== null) return this.takePending();
    const buffer = this.#buffer;
    if (buffer === null) throw new Error("the connection was handed over");
    // A read left running by an earlier deadline is awaited, not doubled.
    const reading = this.#unfinished ?? this.#conn.read(buffer);
    this.#unfinished = reading;
    let count: number | null | typeof TIMED_OUT;
    if (deadline === undefined) {
      count = await reading;
    } else {
      reading.catch(() => {}); // it may fail after the deadline won
      count = await Promise.race([reading, deadline]);
    }
    if (count === TIMED_OUT) return count;
    this.#unfinished = undefined;
    if (count === null) return null;
    return buffer.subarray(0, count);
  }
}

/** Settings of a {@linkcode RequestBody}. */
export interface RequestBodyOptions {
  /** The client sent `Expect: 100-continue`: answer `100 Continue` before
   * the first read. */
  readonly expectContinue: boolean;
  /** Writes to the connection (for the 100 response). */
  readonly write: WriteAll;
  /** Milliseconds allowed for draining an unread body. */
  readonly timeout: number;
}

const CONTINUE_RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 100 Continue\r\n\r\n",
);

/**
 * A request body read from the connection on demand: nothing is read until
 * the handler reads `stream`. After the response is sent, what the handler
 * left unread is drained (bounded) so the connection can carry the next
 * request.
 */
export class RequestBody {
  /** The body as given to the handler's `Request`. */
  readonly stream: ReadableStream<Uint8Array>;
  readonly #reader: ConnReader;
  readonly #decoder: BodyDecoder;
  readonly #options: RequestBodyOptions;
  #continueSent = false;
  #inFlight: Promise<void> | undefined;
  #detached = false;
  #failed = false;

  /**
   * Expose the body that `decoder` frames.
   *
   * @param reader the connection's reader, positioned after the head
   * @param decoder the framing of this body
   * @param options see {@linkcode RequestBodyOptions}
   */
  constructor(
    reader: ConnReader,
    decoder: BodyDecoder,
    options: RequestBodyOptions,
  ) {
    this.#reader = reader;
    this.#decoder = decoder;
    this.#options = options;
    this.stream = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        const pulling = this.#pull(controller);
        this.#inFlight = pulling;
        return pulling;
      },
    }, { highWaterMark: 0 });
  }

  /** Whether the whole body has been read from the connection. */
  get done(): boolean {
    return this.#decoder.done;
  }

  /** Whether {@linkcode RequestBody.drain} can keep the connection: the
   * body did not fail, the client is not waiting for a `100 Continue` we
   * never sent, and no more than `limit` bytes are known to remain. */
  canDrain(limit: number): boolean {
    if (this.#failed) return false;
    if (this.#decoder.done) return true;
    if (this.#options.expectContinue && !this.#continueSent) return false;
    if (this.#decoder instanceof LengthBodyDecoder) {
      return this.#decoder.remaining <= limit;
    }
    return true;
  }

  async #pull(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    if (this.#detached) {
      controller.error(
        new TypeError(
          "the request body can no longer be read: the response was sent",
        ),
      );
      return;
    }
    try {
      const chunk = await this.#next();
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    } catch (error) {
      this.#failed = true;
      controller.error(error);
    }
  }

  async #next(
    deadline?: Promise<typeof TIMED_OUT>,
  ): Promise<Uint8Array | null> {
    if (this.#decoder.done) return null;
    if (this.#options.expectContinue && !this.#continueSent) {
      this.#continueSent = true;
      await this.#options.write(CONTINUE_RESPONSE);
    }
    while (true) {
      const bytes = await this.#reader.read(deadline);
      if (bytes === TIMED_OUT) {
        throw new HttpError(408, "request body not received in time");
      }
      if (bytes === null) {
        throw new HttpError(
          400,
          "the connection closed before the request body ended",
        );
      }
      const progress = this.#decoder.push(bytes);
      if (progress.rest !== null) this.#reader.unread(progress.rest);
      if (progress.data.length > 0) return concatBytes(progress.data);
      if (progress.rest !== null) return null;
    }
  }

  /**
   * Stop serving the handler's stream and read past what it left unread,
   * discarding at most `limit` bytes within the configured timeout.
   * Resolves `true` when the connection is positioned at the next request,
   * `false` when it must be closed instead.
   */
  async drain(limit: number): Promise<boolean> {
    this.#detached = true;
    await this.#inFlight;
    if (!this.canDrain(limit)) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), this.#options.timeout);
    });
    let drained = 0;
    try {
      while (true) {
        const chunk = await this.#next(deadline);
        if (chunk === null) return true;
        drained += chunk.length;
        if (drained > limit) return false;
      }
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
