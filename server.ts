/**
 * An HTTP/1.1 server with WebSocket upgrades on Deno's own TCP and TLS,
 * shaped like `Deno.serve` and `Deno.upgradeWebSocket` so that moving
 * between them means changing an import. The HTTP parsing and the upgrade
 * are this library's own, written by hand; see `./node` for the same server
 * on `node:net` (Bun, Node, and Deno with many busy connections).
 *
 * @example An echo server
 * ```ts
 * import { serve, upgradeWebSocket } from "@rfc6455/websocket/server";
 *
 * const server = serve(
 *   { port: 0, hostname: "127.0.0.1", onListen() {} },
 *   (request) => {
 *     if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
 *       return new Response("not a WebSocket request", { status: 426 });
 *     }
 *     const { socket, response } = upgradeWebSocket(request);
 *     socket.onmessage = (event) => socket.send(event.data);
 *     return response;
 *   },
 * );
 * const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * await answer.body?.cancel(); // 426
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { serve } from "./deno/serve.ts";
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
