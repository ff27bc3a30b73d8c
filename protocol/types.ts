/**
 * The vocabulary of the protocol machine: roles, connection states, options
 * with their defaults, and the events `Protocol.receive` reports.
 * `protocol.ts` re-exports all of it.
 *
 * @module
 */

import type { WebSocketError } from "../errors.ts";
import type { Extension } from "./extension.ts";
import type { FrameAllocator } from "../frame/pool.ts";

/** Which end of the connection this is: clients mask, servers do not. */
export type Role = "server" | "client";

/** Connection states, numbered like the WHATWG `WebSocket.readyState`. */
export const ReadyState = {
  /** The opening handshake has not completed. */
  CONNECTING: 0,
  /** Messages flow both ways. */
  OPEN: 1,
  /** This end sent a close frame and waits for the peer's. */
  CLOSING: 2,
  /** Both close frames were exchanged, or the connection failed. */
  CLOSED: 3,
} as const;

/** One of the {@linkcode ReadyState} values. */
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** Options of `Protocol`. */
export interface ProtocolOptions {
  /** `"server"` expects masked frames and sends unmasked ones; `"client"` the reverse. */
  role: Role;
  /** Largest message in bytes; default `DEFAULTS.socket.maxMessageSize`. Exceeding it closes with 1009. */
  maxMessageSize?: number;
  /** Largest single frame payload in bytes; default the message limit. Exceeding it closes with 1009. */
  maxFrameSize?: number;
  /** Most frames per message; default `DEFAULTS.socket.maxFragments`. Exceeding it closes with 1009. */
  maxFragments?: number;
  /**
   * The extension agreed in the handshake that owns RSV1, such as a
   * `PerMessageDeflate` (one per connection). A message whose first frame
   * has RSV1 set is decoded by it before it is reported, so it arrives as a
   * plain text or binary event. Default none: RSV1 fails the connection.
   */
  extension?: Extension;
  /**
   * Where the frames it encodes get their memory. Default a new buffer per
   * frame, so the frames from `takeOutgoing` may be kept, changed or
   * transferred. A pooling allocator is only safe when frames are given
   * back once the transport is done with their bytes.
   */
  frameAllocator?: FrameAllocator;
  /**
   * Whether a binary message that arrives in one frame within one chunk is
   * handed out in a buffer of its own (copied as it is unmasked) instead
   * of as a view of the chunk: for a caller that copies every binary
   * message anyway, as a socket does for its events' `ArrayBuffer`s.
   * Default false.
   */
  ownBinaryMessages?: boolean;
}

/** Per-message options of `Protocol.sendText` and `sendBinary`, and of
 * `WebSocketConnection.send`. */
export interface SendOptions {
  /**
   * Whether to encode the message with the agreed extension (compress it,
   * for permessage-deflate): `true` always, `false` never. Default: when it
   * reaches the extension's `threshold`. Without an extension that encodes
   * the message goes out as it is.
   */
  compress?: boolean;
}

/** What `Protocol.receive` reports. */
export type ProtocolEvent =
  /** A complete text message (decoded by the extension if it was compressed). */
  | { type: "text"; data: string }
  /**
   * A complete binary message (decoded by the extension if it was
   * compressed). `data` may share memory with the chunks given to
   * `Protocol.receive` (a message that arrived in one frame is a view into
   * its chunk, as `ws` hands out): copy it before that memory is reused or
   * kept past the chunk's lifetime.
   */
  | { type: "binary"; data: Uint8Array }
  /** A ping; the pong reply is already queued. */
  | { type: "ping"; data: Uint8Array }
  /** A pong. */
  | { type: "pong"; data: Uint8Array }
  /**
   * The peer's close frame (code 1005 when it carried none). If this end had
   * not sent a close frame yet, the echo is already queued. State is CLOSED.
   */
  | { type: "close"; code: number; reason: string }
  /**
   * The peer broke the protocol. A close frame with `error.closeCode` is
   * queued (unless one was sent already), the state is CLOSED and nothing
   * more is delivered: write out the queued bytes, then close the transport.
   */
  | { type: "error"; error: WebSocketError };
