/**
 * The limits and timers a {@linkcode WebSocketConnection} runs with, each
 * with its default, and what the handshake agreed for it.
 *
 * @module
 */

import { DEFAULTS } from "../defaults.ts";
import type { PerMessageDeflateParams } from "../deflate/negotiation.ts";
import type { CompressorFactory } from "../deflate/compressor.ts";

/** What `binaryType` selects for binary messages in "message" events. */
export type BinaryType = "blob" | "arraybuffer";

/** What `WebSocketConnection.send` accepts. */
export type WebSocketSendData =
  | string
  | ArrayBufferLike
  | ArrayBufferView
  | Blob;

/**
 * Limits and timers of one socket. Times are in milliseconds; 0 turns a
 * timer off.
 */
export interface WebSocketOptions {
  /**
   * Largest message accepted, in bytes; a bigger one fails the connection
   * with 1009. Default `DEFAULTS.socket.maxMessageSize` (64 MiB).
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
   * causes. Default `DEFAULTS.socket.maxFragments` (131,072).
   */
  maxFragments?: number;
  /**
   * As in `Deno.upgradeWebSocket`: how long, in **seconds**, the peer may
   * take to answer a ping before the connection is deemed dead; 0 disables
   * the keepalive. The same setting as `pingInterval`, in seconds (give one
   * or the other; both must then agree). Default
   * `DEFAULTS.socket.idleTimeout` (30 s).
   */
  idleTimeout?: number;
  /**
   * Send a ping this often, in milliseconds. When nothing at all (pong or
   * anything else) arrived since the previous ping, the peer is gone: the
   * connection is dropped without a close handshake, with an "error" event
   * then a "close" event with code 1006 and wasClean false. Pinging on every
   * tick, not only after silence, keeps proxies with a 60 s idle limit from
   * cutting the connection. 0 disables it. `idleTimeout` in milliseconds.
   * Default `DEFAULTS.socket.pingInterval` (30 s).
   */
  pingInterval?: number;
  /**
   * Close the connection (code 1001, reason "silence timeout", through the
   * normal close handshake) when no byte at all arrived for this many
   * milliseconds. Pongs count as bytes, so with the keepalive on this only
   * fires for peers that stopped answering pings without dropping TCP.
   * Default `DEFAULTS.socket.silenceTimeout` (0, off).
   */
  silenceTimeout?: number;
  /**
   * How long to wait, once closing began, for the peer's close frame, for
   * our last bytes to be written and (client side) for the server to close
   * TCP. Then TCP is closed; if the peer's close frame never came, the close
   * event has code 1006 and wasClean false. Default
   * `DEFAULTS.socket.closeTimeout` (5 s).
   */
  closeTimeout?: number;
  /**
   * Most bytes that may wait to be written (see `bufferedAmount`). A `send`
   * made while more than this already waits fails the connection: the
   * waiting messages are dropped, a close frame 1008 "send queue full" is
   * sent, TCP is closed once that is written (or after `closeTimeout`), and
   * "error" (whose message says to `await socket.drained()` between sends)
   * then "close" (code 1008, wasClean false) are dispatched. Messages are
   * never dropped silently while the socket stays open, and what is sent
   * while the queue is under the cap is always accepted, so a burst sent at
   * once reaches a peer that reads. The automatic replies count too: pongs
   * that a read adds past the cap fail the connection the same way. A
   * server-side socket also stops reading while its backlog is above
   * `DEFAULTS.limits.writeHighWaterBytes`. Default
   * `DEFAULTS.socket.maxQueuedBytes` (64 MiB).
   */
  maxQueuedBytes?: number;
  /**
   * A fixed size, in bytes, for the buffer the connection reads into. By
   * default the buffer adapts: it starts at
   * `DEFAULTS.limits.initialReadBufferSize` (512 bytes) and grows while
   * reads fill it, up to `DEFAULTS.limits.maxReadBufferSize` (64 KiB): for
   * a frame larger than the buffer without limit, for small frames past
   * `DEFAULTS.limits.largeReadBufferFrom` (16 KiB) only within
   * `DEFAULTS.limits.largeReadBuffersBudget` for the whole process; it
   * halves again after a run of reads that use little of it, so idle
   * connections stay small and large messages take few reads.
   */
  readBufferSize?: number;
  /**
   * Most messages per second the peer may send (in bursts of up to as
   * many); the message past it is not delivered and the connection fails
   * with 1008 (policy violation), reason "message rate limit". 0, the
   * default, sets no limit.
   */
  maxMessagesPerSecond?: number;
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
    maxMessageSize: options.maxMessageSize ?? DEFAULTS.socket.maxMessageSize,
    maxFrameSize: options.maxFrameSize ??
      options.maxMessageSize ?? DEFAULTS.socket.maxMessageSize,
    maxFragments: options.maxFragments ?? DEFAULTS.socket.maxFragments,
    idleTimeout: 0, // set below, from pingInterval
    pingInterval: keepaliveInterval(options),
    silenceTimeout: options.silenceTimeout ?? DEFAULTS.socket.silenceTimeout,
    closeTimeout: options.closeTimeout ?? DEFAULTS.socket.closeTimeout,
    maxQueuedBytes: options.maxQueuedBytes ?? DEFAULTS.socket.maxQueuedBytes,
    // 0 stands for the adaptive buffer.
    readBufferSize: options.readBufferSize ?? 0,
    maxMessagesPerSecond: options.maxMessagesPerSecond ?? 0,
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
  resolved.idleTimeout = resolved.pingInterval / 1000;
  if (isDefault) defaultOptions = Object.freeze(resolved);
  return resolved;
}

/**
 * The keepalive interval in milliseconds, from `pingInterval` (ms) or
 * `idleTimeout` (seconds, as `Deno.upgradeWebSocket` takes it).
 *
 * @throws {RangeError} when both are given and disagree
 */
function keepaliveInterval(options: WebSocketOptions): number {
  const { idleTimeout, pingInterval } = options;
  if (idleTimeout === undefined) {
    return pingInterval ?? DEFAULTS.socket.pingInterval;
  }
  const fromSeconds = idleTimeout * 1000;
  if (pingInterval !== undefined && pingInterval !== fromSeconds) {
    throw new RangeError(
      `idleTimeout (${idleTimeout} s) and pingInterval (${pingInterval} ms) set the same keepalive and disagree: give one of them`,
    );
  }
  return fromSeconds;
}

/** How a socket runs permessage-deflate (RFC 7692) once it was agreed. */
export interface NegotiatedDeflate {
  /** What the handshake agreed: context takeover and windows, both ways. */
  params: PerMessageDeflateParams;
  /** Where the socket's compressor comes from (the `./deflate` entry's
   * `perMessageDeflate()` has one). Absent: the socket only inflates. */
  compressors?: CompressorFactory;
  /**
   * Smallest message, in bytes (UTF-8 bytes for text), sent compressed
   * unless `send` says otherwise. 0 compresses every message. Default
   * `DEFAULTS.deflate.takeoverThreshold` with context takeover, else
   * `DEFAULTS.deflate.threshold`.
   */
  threshold?: number;
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
   * Set when the handshake agreed permessage-deflate: the socket then
   * inflates messages that arrive with RSV1 set (keeping the peer's window
   * under context takeover) and compresses what it sends. Absent: RSV1
   * fails the connection (1002).
   */
  perMessageDeflate?: NegotiatedDeflate;
}
