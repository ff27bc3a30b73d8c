/**
 * The server on Bun's own TCP (`Bun.listen`): {@linkcode serveBun} takes the
 * same options and handler as `serve` and `serveNodeNet`, with TLS from
 * `cert` and `key`. Bun only; `./node` has the client and a server that
 * runs in Bun too, on `node:net`.
 *
 * @example An echo server, in Bun
 * ```ts ignore
 * import { serveBun, upgradeWebSocket } from "@rfc6455/websocket/bun";
 *
 * serveBun({ port: 8080 }, (request) => {
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * });
 * ```
 *
 * @module
 */

export { serveBun } from "./bun/serve.ts";
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
