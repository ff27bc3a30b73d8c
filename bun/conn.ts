/**
 * A {@linkcode ByteConn} over a socket of Bun's own TCP (`Bun.listen`),
 * which pushes data to its handlers: a chunk pushed while the socket's
 * reader waits goes to it at once, inside the data handler
 * (`DirectReads`); others wait and are copied into a buffer lent from a
 * shared pool, or the caller's (`socket/pushed_reads.ts`), pausing the
 * socket while too much waits; a
 * write takes what the kernel accepts at once and waits for the socket's
 * drain when it accepts nothing.
 *
 * @module
 */

import {
  type ByteConn,
  markPoolSafe,
  type NetAddr,
} from "../socket/transport.ts";
import {
  type ChunkReads,
  type DirectReads,
  PushedReads,
} from "../socket/pushed_reads.ts";

/** Bytes pushed and not yet read past which the socket is paused: 64 KiB. */
export const BUN_READ_HIGH_WATER_BYTES = 64 * 1024;

/** The part of a Bun TCP socket this adapter uses. */
export interface BunSocket {
  /** The peer's IP address. */
  readonly remoteAddress: string;
  /**
   * Writes what the kernel takes now of `data` (of its `byteLength` bytes
   * from `byteOffset`, when given); returns the count, -1 once closed.
   */
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  /** Stops the data handler from being called. */
  pause(): void;
  /** Calls the data handler again. */
  resume(): void;
  /** Closes, after what was written. */
  end(): void;
  /** Turns Nagle's algorithm off or on. */
  setNoDelay?(noDelay: boolean): void;
}

/** A Bun socket as the reads and writes a WebSocket needs. */
export class BunConn implements ByteConn, ChunkReads, DirectReads {
  /** The peer's address. */
  readonly remoteAddr: NetAddr;
  readonly #socket: BunSocket;
  readonly #reads: PushedReads;
  #closed = false;
  #drained: (() => void) | null = null;

  /**
   * Wraps a socket from `Bun.listen`; its handlers must call
   * {@linkcode BunConn.pushed}, {@linkcode BunConn.ended},
   * {@linkcode BunConn.failed} and {@linkcode BunConn.drain}.
   *
   * @param socket the socket
   */
  constructor(socket: BunSocket) {
    this.#socket = socket;
    this.remoteAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress,
      port: 0,
    };
    socket.setNoDelay?.(true);
    // Bun's write copies what it takes before it returns.
    markPoolSafe(this);
    this.#reads = new PushedReads(BUN_READ_HIGH_WATER_BYTES, socket);
  }

  /**
   * The data handler: bytes arrived.
   *
   * @param data the bytes (kept until read)
   */
  pushed(data: Uint8Array): void {
    this.#reads.push(data);
  }

  /** The end and close handlers: no more bytes will come. */
  ended(): void {
    this.#reads.end();
    this.#wake();
  }

  /**
   * The error handler.
   *
   * @param error what went wrong
   */
  failed(error: Error): void {
    this.#reads.fail(error);
    this.#wake();
  }

  /** The drain handler: the socket takes bytes again. */
  drain(): void {
    this.#wake();
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#reads.read(buffer);
  }

  /**
   * See {@linkcode DirectReads.readDirect}: a chunk pushed while the
   * socket's reader waits goes to it inside Bun's data handler, with no
   * promise and no copy into a lent buffer.
   *
   * @param take called with each chunk pushed while a read waits
   */
  readDirect(take: (chunk: Uint8Array) => boolean): void {
    this.#reads.readDirect(take);
  }

  /**
   * The bytes Bun pushed, in a buffer lent until
   * {@linkcode BunConn.releaseChunk} (no read buffer per connection).
   *
   * @param limit the most bytes to return
   * @returns the bytes, or null at the end
   */
  readChunk(limit: number): Promise<Uint8Array | null> {
    return this.#reads.readChunk(limit);
  }

  /** Gives back the buffer of the last {@linkcode BunConn.readChunk}. */
  releaseChunk(): void {
    this.#reads.releaseChunk();
  }

  /**
   * Writes what the kernel takes now (Bun copies it before returning).
   *
   * @param data holds the bytes to write
   * @param offset where they start in `data`
   * @param length how many there are
   * @returns how many bytes were taken, 0 when none can be now
   * @throws {Error} once the connection is closed
   */
  writeNow(data: Uint8Array, offset: number, length: number): number {
    if (this.#closed) throw new Error("the connection is closed");
    const written = this.#socket.write(data, offset, length);
    if (written < 0) throw new Error("the connection is closed");
    return written;
  }

  async write(data: Uint8Array): Promise<number> {
    for (;;) {
      const written = this.writeNow(data, 0, data.length);
      if (written > 0 || data.length === 0) return written;
      await new Promise<void>((resolve) => this.#drained = resolve);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.end();
    this.#reads.close();
    this.#wake();
  }

  #wake(): void {
    const drained = this.#drained;
    this.#drained = null;
    drained?.();
  }
}
