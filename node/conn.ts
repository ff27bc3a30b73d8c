/**
 * A {@linkcode ByteConn} over a `node:net` socket, for `serveNodeNet()` and
 * the `./node` entry's `connect()`. Deno runs `node:net` on a native stream
 * that pushes data to JavaScript, while `Deno.Conn` asks for every read with
 * a promise of its own; with thousands of busy connections the second
 * leaves most of them unserved (docs/PERFORMANCE.md). Bun and Node run
 * `node:net` natively.
 *
 * A chunk pushed while the socket's reader waits goes to it at once, inside
 * the "data" event, as `ws` handles it (`DirectReads`); others wait and are
 * copied into the reader's buffer (`socket/pushed_reads.ts`). Under Node a
 * socket is read in place instead of through "data" events: into one buffer
 * shared by every socket, handed over the same way (what must wait is
 * copied), with no buffer allocated per read; while more
 * than {@linkcode NODE_READ_HIGH_WATER_BYTES} wait, the socket is paused, so
 * TCP flow control still reaches the peer. A write the kernel takes at once
 * settles at once (`writeNow`): no callback, promise or tick per write.
 *
 * @module
 */

import type { Socket } from "node:net";
import process from "node:process";
import {
  type ByteConn,
  markPoolSafe,
  type NetAddr,
} from "../socket/transport.ts";
import { PushedReads } from "../socket/pushed_reads.ts";

/** Bytes pushed by the socket and not yet read past which it is paused: 64 KiB. */
export const NODE_READ_HIGH_WATER_BYTES = 64 * 1024;

/** What an empty write writes. */
const EMPTY = new Uint8Array(0);

/** Where a socket's reads are kept, for the shared listeners below. */
const PUSHED_READS = Symbol("pushedReads");

/** A socket wrapped by a {@linkcode NodeNetConn}. */
interface ReadingSocket {
  [PUSHED_READS]: PushedReads;
}

/** Bytes of the buffer every socket read in place reads into: 64 KiB,
 * what Node allocates per read otherwise. */
const SHARED_READ_BYTES = 64 * 1024;

/** The buffer Node reads sockets into in place, shared by all of them: a
 * read is handed over (or copied) before the next one lands. */
const sharedReadBuffer = new Uint8Array(SHARED_READ_BYTES);
/** The last view of {@linkcode sharedReadBuffer} handed over. */
let sharedReadView: Uint8Array = sharedReadBuffer.subarray(0, 0);

/** The keys of a Node socket's `onread` fields (see `readInPlace`):
 * undefined until found, null in a runtime other than Node. */
let onreadKeys: OnreadKeys | null | undefined;

/** The keys of a Node socket's `onread` buffer and callback. */
interface OnreadKeys {
  buffer: symbol;
  callback: symbol;
}

/** What `readInPlace` uses of a socket beyond its public API. */
interface InPlaceSocket {
  _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } | null;
  [key: symbol]: unknown;
}

/** Finds the fields behind `net.Socket`'s `onread` option, in Node only
 * (undefined when `socket` has none: a stand-in). */
function findOnreadKeys(socket: Socket): OnreadKeys | null | undefined {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.bun !== undefined || versions.deno !== undefined) return null;
  let buffer: symbol | undefined;
  let callback: symbol | undefined;
  for (const key of Object.getOwnPropertySymbols(socket)) {
    if (key.description === "kBuffer") buffer = key;
    else if (key.description === "kBufferCb") callback = key;
  }
  if (buffer === undefined || callback === undefined) return undefined;
  return { buffer, callback };
}

/**
 * Makes Node read `socket` into the shared buffer and call
 * {@linkcode onSocketRead}, as the `onread` option of a socket Node made
 * itself does (`net.Server` takes no such option): no buffer allocated per
 * read, no stream machinery per chunk (docs/PERFORMANCE.md, "Issue 15: Node
 * 24 at 64 KiB"). Only in Node, on a plain socket nothing read yet.
 *
 * @returns false where that is not possible: "data" events then
 */
function readInPlace(socket: Socket): boolean {
  const keys = onreadKeys ??= findOnreadKeys(socket);
  const fields = socket as unknown as InPlaceSocket;
  const handle = fields._handle;
  if (
    keys == null || socket.readableLength > 0 ||
    typeof handle?.useUserBuffer !== "function" ||
    fields[keys.buffer] !== null || fields[keys.callback] !== null
  ) {
    return false;
  }
  fields[keys.buffer] = sharedReadBuffer;
  fields[keys.callback] = onSocketRead;
  handle.useUserBuffer(sharedReadBuffer);
  return true;
}

/** A read in place: `length` bytes at the start of `buffer`, which the
 * next read overwrites. */
function onSocketRead(
  this: ReadingSocket,
  length: number,
  buffer: Uint8Array,
): void {
  let view = sharedReadView;
  if (view.length !== length) {
    view = buffer.subarray(0, length);
    sharedReadView = view;
  }
  this[PUSHED_READS].push(view, true);
}

function onSocketData(this: ReadingSocket, data: Uint8Array): void {
  // A plain Uint8Array: a Buffer's slice() is a view, not a copy.
  this[PUSHED_READS].push(
    new Uint8Array(data.buffer, data.byteOffset, data.length),
  );
}

function onSocketEnd(this: ReadingSocket): void {
  this[PUSHED_READS].end();
}

function onSocketError(this: ReadingSocket, error: Error): void {
  this[PUSHED_READS].fail(error);
}

/** A `node:net` socket as the reads and writes a WebSocket needs. */
export class NodeNetConn implements ByteConn {
  /** The peer's address. */
  readonly remoteAddr: NetAddr;
  readonly #socket: Socket;
  readonly #reads: PushedReads;
  /** A TLS socket: its writes always settle through a callback (an empty
   * write, which `writeNow` queues behind one that waits, fails on Deno's
   * `node:tls`). */
  readonly #encrypted: boolean;
  #closed = false;

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
    this.#encrypted = (socket as Socket & { encrypted?: boolean }).encrypted ===
      true;
    socket.setNoDelay(true);
    // write() settles once the bytes were taken by the kernel (see write).
    markPoolSafe(this);
    const reads = new PushedReads(NODE_READ_HIGH_WATER_BYTES, socket);
    this.#reads = reads;
    // The same four listeners for every socket (an emitter calls them with
    // the socket as `this`): no closures per connection.
    (socket as Socket & Partial<ReadingSocket>)[PUSHED_READS] = reads;
    if (this.#encrypted || !readInPlace(socket)) {
      socket.on("data", onSocketData);
    }
    socket.on("end", onSocketEnd);
    socket.on("error", onSocketError);
    socket.on("close", onSocketEnd);
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#reads.read(buffer);
  }

  /**
   * See `DirectReads.readDirect` (`socket/pushed_reads.ts`).
   *
   * @param take called with each chunk pushed while a read waits
   */
  readDirect(take: (chunk: Uint8Array) => boolean): void {
    this.#reads.readDirect(take);
  }

  /**
   * Writes `length` bytes of `data` from `offset`: the count itself when the
   * kernel took every byte at once, else a promise as from
   * {@linkcode NodeNetConn.write}.
   *
   * @param data holds the bytes to write
   * @param offset where they start in `data`
   * @param length how many there are
   * @returns how many bytes were written, now or once it settles
   */
  writeNow(
    data: Uint8Array,
    offset: number,
    length: number,
  ): number | Promise<number> {
    const socket = this.#socket;
    if (this.#closed || socket.destroyed || socket.writableEnded) {
      return Promise.reject(new Error("the connection is closed"));
    }
    const bytes = offset === 0 && length === data.length
      ? data
      : data.subarray(offset, offset + length);
    if (this.#encrypted || socket.writableLength > 0) {
      return this.#whenWritten(bytes, length);
    }
    // Without a callback, a write the kernel takes at once schedules
    // nothing more; the socket's queue tells whether it was taken.
    socket.write(bytes);
    if (socket.writableLength === 0) {
      if (socket.destroyed) {
        return Promise.reject(
          socket.errored ?? new Error("the connection is closed"),
        );
      }
      return length;
    }
    // Some of it waits in the socket: an empty write queued behind it
    // calls back once it went out.
    return this.#whenWritten(EMPTY, length);
  }

  write(data: Uint8Array): Promise<number> {
    const written = this.writeNow(data, 0, data.length);
    return typeof written === "number" ? Promise.resolve(written) : written;
  }

  /** Writes `data` and settles with `length` once the kernel took it. */
  #whenWritten(data: Uint8Array, length: number): Promise<number> {
    return new Promise((resolve, reject) => {
      // The callback comes once the kernel took the bytes (Node, Bun and
      // Deno's node:net alike): only then may their memory be reused.
      this.#socket.write(data, (error) => {
        if (error) reject(error);
        else resolve(length);
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
    this.#reads.close();
  }
}
