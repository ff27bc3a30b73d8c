/**
 * The server and the client on `node:net` and `node:tls`, for Bun and Node
 * (22 and later) and for Deno: {@linkcode serveNodeNet} takes the same
 * options and handler as `serve`, and {@linkcode connect} is the same client
 * as Deno's, `ws://` and `wss://`. In Deno, prefer it over `serve` for thousands of busy
 * connections: Deno serves `node:net` sockets in turn, where `Deno.Conn`
 * reads leave most of 10,000 busy connections waiting (see
 * `docs/PERFORMANCE.md`). Plain TCP only; put TLS in front of it.
 *
 * @example An echo server, in any of the three runtimes
 * ```ts
 * import { serveNodeNet, upgradeWebSocket } from "@rfc6455/websocket/node";
 *
 * const server = await serveNodeNet(
 *   { port: 0, hostname: "127.0.0.1", onListen() {} },
 *   (request) => {
 *     const { socket, response } = upgradeWebSocket(request);
 *     socket.onmessage = (event) => socket.send(event.data);
 *     return response;
 *   },
 * );
 * const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * await answer.body?.cancel(); // 400: not a WebSocket request
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { serveNodeNet } from "./node/serve.ts";
export { connect } from "./node/connect.ts";
export type { ConnectOptions } from "./client/connect.ts";
export type {
  ServeHandler,
  ServeHandlerInfo,
  ServeOptions,
  Server,
} from "./server/serve.ts";
export {
  type UpgradeOptions,
  type UpgradeResult,
  upgradeWebSocket,
} from "./server/upgrade.ts";
export { WebSocketConnection } from "./socket/websocket.ts";
export {
  type WebSocketEventHandler,
  type WebSocketEventMap,
  WebSocketEventTarget,
  type WebSocketLike,
} from "./socket/event_target.ts";
export type { IteratedMessage } from "./socket/message_buffer.ts";
export type {
  BinaryType,
  WebSocketOptions,
  WebSocketSendData,
} from "./socket/options.ts";
export type { NetAddr } from "./socket/transport.ts";
export type { PublishData } from "./socket/pubsub.ts";
export type { Broker, BrokerData, BrokerDelivery } from "./socket/broker.ts";
export type { Role } from "./protocol/types.ts";
export type {
  DeflateDirection,
  PerMessageDeflateOptions,
  PerMessageDeflateParams,
  ResolvedDeflateOptions,
} from "./deflate/negotiation.ts";
export type { PerMessageDeflateSetup } from "./deflate/extension.ts";
export type {
  CompressorFactory,
  MessageCompressor,
} from "./deflate/compressor.ts";
export type { SendOptions } from "./protocol/types.ts";
export { ForbiddenOriginError } from "./handshake/origin.ts";
export {
  CloseCode,
  HandshakeError,
  HttpError,
  InvalidPayloadError,
  InvalidStateError,
  MessageTooBigError,
  ProtocolError,
  type ProtocolRule,
  ServerError,
  type ServerErrorPhase,
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
