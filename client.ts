/**
 * A WebSocket client over Deno's TCP and TLS: {@linkcode connect} performs
 * the opening handshake (RFC 6455 section 4.1) and resolves with an open
 * {@linkcode WebSocketConnection}, the same socket the server side uses,
 * with `for await`, `drained()` and permessage-deflate.
 *
 * @example Talk to a server of our own
 * ```ts
 * import { connect } from "@rfc6455/websocket/client";
 * import { serve, upgradeWebSocket } from "@rfc6455/websocket/server";
 *
 * const server = serve(
 *   { port: 0, hostname: "127.0.0.1", onListen() {} },
 *   (request) => {
 *     const { socket, response } = upgradeWebSocket(request);
 *     socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
 *     return response;
 *   },
 * );
 * const socket = await connect(`ws://127.0.0.1:${server.addr.port}/`);
 * socket.send("hello");
 * for await (const message of socket) {
 *   if (message !== "echo: hello") throw new Error(`got ${message}`);
 *   break;
 * }
 * socket.close(1000);
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { connect } from "./deno/connect.ts";
export type { ConnectOptions } from "./client/connect.ts";
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
