/**
 * What a {@linkcode WebSocketConnection} runs over and the limits and timers
 * it runs with, each with its default as a named constant.
 *
 * @module
 */

import {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_MESSAGE_SIZE,
} from "../protocol/protocol.ts";

/** The byte stream a socket runs over; `Deno.Conn` and `Deno.TlsConn` satisfy it. */
export interface ByteConn {
  /**
   * Reads into `buffer`.
   *
   * @param buffer where to put the bytes
   * @returns how many bytes were read, or null at end of stream
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes some or all of `data`. Once the promise settles, `data`'s memory
   * may be reused for another frame: a transport that keeps the bytes
   * longer (a queue, a recorder) must copy them.
   *
   * @param data the bytes to write
   * @returns how many bytes were written
   */
  write(data: Uint8Array): Promise<number>;
  /** Closes the stream; pending reads and writes end. */
  close(): void;
  /**
   * Ends the sending side only (TCP FIN) while reading goes on; optional.
   * With it, a connection the socket failed is closed without a TCP reset
   * (see `CLOSE_LINGER_TIMEOUT`).
   */
  closeWrite?(): Promise<void>;
}

/** What `binaryType` selects for binary messages in "message" events. */
export type BinaryType = "blob" | "arraybuffer";

/** What `WebSocketConnection.send` accepts. */
export type WebSocketSendData =
  | string
  | ArrayBufferLike
  | ArrayBufferView
  | Blob;

/** Default {@linkcode WebSocketOptions.closeTimeout}: 5 seconds. */
export const DEFAULT_CLOSE_TIMEOUT = 5_000;
/** Default {@linkcode WebSocketOptions.pingInterval}: 30 seconds. */
export const DEFAULT_PING_INTERVAL = 30_000;
/** Default {@linkcode WebSocketOptions.idleTimeout}: 0, off. */
export const DEFAULT_IDLE_TIMEOUT = 0;
/** Default {@linkcode WebSocketOptions.maxQueuedBytes}: 16 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/**
 * A server-side socket stops reading from its connection while more than
 * this many bytes wait to be written (or half its `maxQueuedBytes`, when
 * that is lower), and reads on once they fell to it: 1 MiB. A peer that
 * sends without reading what comes back (pings whose pongs pile up,
 * messages an echo handler answers) is then held back by TCP flow control
 * instead of growing the server's memory. Client-side sockets keep reading
 * (two peers that both stopped reading while both had a backlog would wait
 * for each other forever); automatic replies still count against their
 * `maxQueuedBytes`.
 */
export const WRITE_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * The most a connection's read buffer grows to when
 * {@linkcode WebSocketOptions.readBufferSize} is not set: 64 KiB.
 */
export const DEFAULT_READ_BUFFER_SIZE = 64 * 1024;

/**
 * Size a connection's read buffer starts at when
 * {@linkcode WebSocketOptions.readBufferSize} is not set: 512 bytes. Most
 * connections of a busy server are idle or carry small messages and never
 * need more (at 10,000 connections a 4 KiB start cost 40 MB); the buffer
 * doubles while reads fill it, up to {@linkcode DEFAULT_READ_BUFFER_SIZE}.
 */
export const INITIAL_READ_BUFFER_SIZE = 512;

/**
 * Limits and timers of one socket. Times are in milliseconds; 0 turns a
 * timer off.
 */
export interface WebSocketOptions {
  /**
   * Largest message accepted, in bytes; a bigger one fails the connection
   * with 1009. Default `DEFAULT_MAX_MESSAGE_SIZE` (64 MiB).
   */
  maxMessageSize?: number;
  /**
   * Largest single frame payload accepted, in bytes; a bigger one fails the
   * connection with 1009 as soon as its header arrives, before any payload
   * is buffered. Default `maxMessageSize` (a message may come in one frame).
   */
  maxFrameSize?: number;
  /**
   * Most frames one message may arrive in (empty frames count); more fail
   * the connection with 1009. Bounds the work a flood of tiny fragments
   * causes. Default `DEFAULT_MAX_FRAGMENTS` (131,072).
   */
  maxFragments?: number;
  /**
   * Close the connection (code 1001, reason "idle timeout", through the
   * normal close handshake) when no byte at all arrived for this long.
   * Pongs count as bytes, so with `pingInterval` on this only fires for
   * peers that stopped answering pings without dropping TCP. Default
   * {@linkcode DEFAULT_IDLE_TIMEOUT} (off).
   */
  idleTimeout?: number;
  /**
   * Send a ping this often. When nothing at all (pong or anything else)
   * arrived since the previous ping, the peer is gone: the connection is
   * dropped without a close handshake, with an "error" event then a "close"
   * event with code 1006 and wasClean false. Pinging on every tick, not only
   * after silence, keeps proxies with a 60 s idle limit from cutting the
   * connection. Default {@linkcode DEFAULT_PING_INTERVAL} (30 s).
   */
  pingInterval?: number;
  /**
   * How long to wait, once closing began, for the peer's close frame, for
   * our last bytes to be written and (client side) for the server to close
   * TCP. Then TCP is closed; if the peer's close frame never came, the close
   * event has code 1006 and wasClean false. Default
   * {@linkcode DEFAULT_CLOSE_TIMEOUT} (5 s).
   */
  closeTimeout?: number;
  /**
   * Most bytes that may wait to be written (see `bufferedAmount`). A `send`
   * that passes it while bytes are still waiting fails the connection: the
   * waiting messages are dropped, a close frame 1008 "send queue full" is
   * sent, TCP is closed once that is written (or after `closeTimeout`), and
   * "error" then "close" (code 1008, wasClean false) are dispatched. Messages
   * are never dropped silently while the socket stays open. One message on
   * an empty queue is always accepted, whatever its size. The automatic
   * replies count too: pongs that a read adds past the cap fail the
   * connection the same way. A server-side socket also stops reading while
   * its backlog is above `WRITE_HIGH_WATER_BYTES`. Default
   * {@linkcode DEFAULT_MAX_QUEUED_BYTES} (16 MiB).
   */
  maxQueuedBytes?: number;
  /**
   * A fixed size, in bytes, for the buffer the connection reads into. By
   * default the buffer adapts: it starts at
   * {@linkcode INITIAL_READ_BUFFER_SIZE} (512 bytes), doubles while reads fill
   * it, up to {@linkcode DEFAULT_READ_BUFFER_SIZE} (64 KiB), and halves
   * again after a run of reads that use little of it, so idle connections
   * stay small and large messages take few reads.
   */
  readBufferSize?: number;
}

/** {@linkcode WebSocketOptions} with every default filled in and checked. */
export type ResolvedWebSocketOptions = Required<WebSocketOptions>;

/** The resolved options of sockets created without options, shared. */
let defaultOptions: ResolvedWebSocketOptions | undefined;

/**
 * Fills in defaults and checks every option.
 *
 * @param options what the caller set
 * @returns every option, valid
 * @throws {RangeError} when an option is negative, not finite or not a number
 */
export function resolveWebSocketOptions(
  options: WebSocketOptions = {},
): ResolvedWebSocketOptions {
  // Sockets without options share one frozen object.
  let isDefault = true;
  for (const key in options) {
    if ((options as Record<string, unknown>)[key] !== undefined) {
      isDefault = false;
      break;
    }
  }
  if (isDefault && defaultOptions !== undefined) return defaultOptions;
  const resolved: ResolvedWebSocketOptions = {
    maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    maxFrameSize: options.maxFrameSize ??
      options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    maxFragments: options.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    pingInterval: options.pingInterval ?? DEFAULT_PING_INTERVAL,
    closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
    maxQueuedBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
    // 0 stands for the adaptive buffer.
    readBufferSize: options.readBufferSize ?? 0,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `${name} must be a non-negative finite number, got ${value}`,
      );
    }
  }
  if (
    !Number.isInteger(resolved.readBufferSize) ||
    (options.readBufferSize !== undefined && resolved.readBufferSize < 1)
  ) {
    throw new RangeError("readBufferSize must be a positive integer");
  }
  if (isDefault) defaultOptions = Object.freeze(resolved);
  return resolved;
}

/** How a socket runs permessage-deflate (RFC 7692) once it was agreed. */
export interface NegotiatedDeflate {
  /**
   * Smallest message, in bytes (UTF-8 bytes for text), sent compressed;
   * smaller ones go out uncompressed. 0 compresses every message. Usually
   * `resolveDeflateOptions(options).threshold` (deflate_negotiation.ts).
   */
  threshold: number;
}

/** The negotiated details `attachConnection` receives. */
export interface NegotiatedConnection {
  /** The subprotocol chosen, or "". */
  protocol: string;
  /** The extensions accepted, as sent in Sec-WebSocket-Extensions, or "". */
  extensions: string;
  /** What `socket.url` reports; default "" (as Deno's server sockets). */
  url?: string;
  /**
   * Set when the handshake agreed permessage-deflate (both sides with no
   * context takeover, as `negotiateDeflate` and `acceptDeflateResponse`
   * require): the socket then inflates messages that arrive with RSV1 set
   * and compresses what it sends. Absent: RSV1 fails the connection (1002).
   */
  perMessageDeflate?: NegotiatedDeflate;
}
