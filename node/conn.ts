/**
 * A {@linkcode ByteConn} over a `node:net` socket, for `serveNodeNet()`.
 * Deno runs `node:net` on a native stream that pushes data to JavaScript,
 * while `Deno.Conn` asks for every read with a promise of its own; with
 * thousands of busy connections the second leaves most of them unserved
 * (docs/PERFORMANCE.md). Bun and Node run `node:net` natively.
 *
 * Reads copy the pushed chunks into the caller's buffer; when more than
 * {@linkcode NODE_READ_HIGH_WATER_BYTES} wait, the socket is paused, so TCP
 * flow control still reaches the peer.
 *
 * @module
 */

import type { Socket } from "node:net";
import { type ByteConn, markPoolSafe } from "../socket/transport.ts";
import { Fifo } from "../socket/fifo.ts";

/** Bytes pushed by the socket and not yet read past which it is paused: 64 KiB. */
export const NODE_READ_HIGH_WATER_BYTES = 64 * 1024;

interface PendingRead {
  buffer: Uint8Array;
  resolve(count: number | null): void;
  reject(error: Error): void;
}

/** A connection's address, shaped like `Deno.NetAddr`. */
export interface NodeNetAddr {
  /** Always "tcp". */
  transport: "tcp";
  /** The IP address. */
  hostname: string;
  /** The port. */
  port: number;
}

/** A `node:net` socket as the reads and writes a WebSocket needs. */
export class NodeNetConn implements ByteConn {
  /** The peer's address. */
  readonly remoteAddr: NodeNetAddr;
  readonly #socket: Socket;
  /** Chunks pushed by the socket and not yet read, the first maybe in part. */
  readonly #chunks = new Fifo<Uint8Array>();
  /** Bytes of the first chunk already read. */
  #firstOffset = 0;
  #queuedBytes = 0;
  #ended = false;
  #error: Error | null = null;
  #closed = false;
  #pending: PendingRead | null = null;

  /**
   * Wraps an accepted or connected socket; it must not be read elsewhere.
   *
   * @param socket the socket
   */
  constructor(socket: Socket) {
    this.#socket = socket;
    this.remoteAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    socket.setNoDelay(true);
    // write() settles once the bytes were taken by the kernel (see write).
    markPoolSafe(this);
    socket.on("data", (data: Uint8Array) => this.#onData(data));
    socket.on("end", () => {
      this.#ended = true;
      this.#serveRead();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#serveRead();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#serveRead();
    });
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#pending !== null) {
      return Promise.reject(new Error("a read is already pending"));
    }
    return new Promise((resolve, reject) => {
      this.#pending = { buffer, resolve, reject };
      this.#serveRead();
    });
  }

  write(data: Uint8Array): Promise<number> {
    if (this.#closed || this.#socket.destroyed) {
      return Promise.reject(new Error("the connection is closed"));
    }
    return new Promise((resolve, reject) => {
      // The callback comes once the kernel took the bytes (Node, Bun and
      // Deno's node:net alike): only then may their memory be reused.
      this.#socket.write(data, (error) => {
        if (error) reject(error);
        else resolve(data.length);
      });
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(new Error("the connection is closed"));
  }

  #onData(data: Uint8Array): void {
    if (data.length === 0) return;
    this.#chunks.push(data);
    this.#queuedBytes += data.length;
    if (this.#queuedBytes > NODE_READ_HIGH_WATER_BYTES) this.#socket.pause();
    this.#serveRead();
  }

  /** Fills the pending read from what the socket pushed, if anything. */
  #serveRead(): void {
    const pending = this.#pending;
    if (pending === null) return;
    if (this.#queuedBytes > 0) {
      this.#pending = null;
      pending.resolve(this.#take(pending.buffer));
      if (this.#queuedBytes <= NODE_READ_HIGH_WATER_BYTES) {
        this.#socket.resume();
      }
    } else if (this.#error !== null) {
      this.#pending = null;
      pending.reject(this.#error);
    } else if (this.#ended || this.#closed) {
      this.#pending = null;
      pending.resolve(null);
    }
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
