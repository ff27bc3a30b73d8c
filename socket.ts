/**
 * The WHATWG-shaped WebSocket ({@linkcode WebSocketConnection}) over any
 * byte stream, for writing an adapter of your own (a new runtime's TCP, a
 * test double, a tunnel). It uses no runtime-specific API: the adapter does
 * the handshake, then hands the socket a {@linkcode ByteConn} with
 * {@linkcode attachConnection}; the socket drives the protocol machine,
 * reads with flow control, writes with backpressure, and runs the close
 * handshake and the keepalive timers.
 *
 * Servers and clients built on it are in `./server`, `./node` and
 * `./client`; most users want those.
 *
 * @example A socket over an in-memory connection
 * ```ts
 * import {
 *   attachConnection,
 *   type ByteConn,
 *   createPendingSocket,
 * } from "@rfc6455/websocket/socket";
 *
 * // A client frame "hi" (masked with a zero key), then the peer goes away.
 * const incoming = [new Uint8Array([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69])];
 * const written: Uint8Array[] = [];
 * const conn: ByteConn = {
 *   read(buffer) {
 *     const chunk = incoming.shift();
 *     if (chunk === undefined) return Promise.resolve(null);
 *     buffer.set(chunk);
 *     return Promise.resolve(chunk.length);
 *   },
 *   write(data) {
 *     written.push(data.slice());
 *     return Promise.resolve(data.length);
 *   },
 *   close() {},
 * };
 * const socket = createPendingSocket("server");
 * socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
 * await attachConnection(socket, conn, new Uint8Array(0), {
 *   protocol: "",
 *   extensions: "",
 * });
 * const echo = new TextDecoder().decode(written[0].subarray(2, 10));
 * if (echo !== "echo: hi") throw new Error(`wrote ${echo}`);
 * ```
 *
 * @module
 */

export {
  abortPendingSocket,
  attachConnection,
  createPendingSocket,
  WebSocketConnection,
} from "./socket/websocket.ts";
export {
  type WebSocketEventHandler,
  type WebSocketEventMap,
  WebSocketEventTarget,
  type WebSocketLike,
} from "./socket/event_target.ts";
export type { IteratedMessage } from "./socket/message_buffer.ts";
export type {
  BinaryType,
  NegotiatedConnection,
  NegotiatedDeflate,
  WebSocketOptions,
  WebSocketSendData,
} from "./socket/options.ts";
export type { ByteConn, NetAddr } from "./socket/transport.ts";
export {
  type FrameQueuer,
  type PublishData,
  type Subscriber,
  TopicRegistry,
} from "./socket/pubsub.ts";
export type { Broker, BrokerData, BrokerDelivery } from "./socket/broker.ts";
export type { Role, SendOptions } from "./protocol/types.ts";
export type {
  DeflateDirection,
  PerMessageDeflateParams,
} from "./deflate/negotiation.ts";
export type {
  CompressorFactory,
  MessageCompressor,
} from "./deflate/compressor.ts";
export {
  CloseCode,
  InvalidStateError,
  type ProtocolRule,
  UnreadIteratorError,
  WebSocketError,
} from "./errors.ts";
export {
  type BrokerDefaults,
  type ClientDefaults,
  DEFAULTS,
  type Defaults,
  type DeflateDefaults,
  type Limits,
  type ServerDefaults,
  type SocketDefaults,
} from "./defaults.ts";
