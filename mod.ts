/**
 * rfc6455: a WebSocket implementation in pure TypeScript, correct to the
 * letter of RFC 6455, with zero dependencies.
 *
 * The layers, each usable on its own:
 * - `frame.ts`: an incremental frame decoder and encoder on `Uint8Array`,
 *   with masking.
 * - `protocol.ts`: the sans-I/O protocol machine (fragments, control frames,
 *   UTF-8, the close handshake, limits): bytes in, events and bytes out.
 * - `handshake.ts`: the opening handshake for servers and clients.
 * - `server.ts`: `serve()` and `upgradeWebSocket()` over raw Deno TCP, a
 *   drop-in for `Deno.serve` and `Deno.upgradeWebSocket`; `serveNodeNet()`
 *   is the same server on `node:net` sockets, for thousands of busy
 *   connections (and for Bun).
 * - `pubsub.ts`: topics as in Bun (`socket.subscribe`, `socket.publish`,
 *   `server.publish`), each message framed once for every subscriber.
 * - `deflate.ts` and `deflate_negotiation.ts`: permessage-deflate (RFC
 *   7692), turned on for a server socket with `upgradeWebSocket(request,
 *   { perMessageDeflate: true })`.
 *
 * The codec modules use only Web APIs and run in Deno, Bun and browsers; only
 * the server (and the client) touch I/O.
 *
 * @example An echo server
 * ```ts
 * import { serve, upgradeWebSocket } from "@rfc6455/websocket";
 *
 * serve({ port: 8080 }, (request) => {
 *   if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
 *     return new Response("hi");
 *   }
 *   const { socket, response } = upgradeWebSocket(request, { protocol: "chat" });
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * });
 * ```
 *
 * @example The protocol machine on its own
 * ```ts
 * import { Protocol } from "@rfc6455/websocket";
 *
 * const protocol = new Protocol({ role: "server" });
 * // Feed it bytes from anywhere; act on the events; write what it queues.
 * const events = protocol.receive(new Uint8Array([0x88, 0x80, 1, 2, 3, 4]));
 * // events: [{ type: "close", code: 1005, reason: "" }]
 * const reply = protocol.takeOutgoing(); // the echoed close frame
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./frame/encoder.ts";
export * from "./protocol/protocol.ts";
export * from "./frame/utf8.ts";
export * from "./handshake/handshake.ts";
export {
  abortPendingSocket,
  attachConnection,
  type BinaryType,
  type ByteConn,
  createPendingSocket,
  type IteratedMessage,
  type NegotiatedConnection,
  WebSocketConnection,
  type WebSocketEventHandler,
  type WebSocketEventMap,
  WebSocketEventTarget,
  type WebSocketOptions,
  type WebSocketSendData,
} from "./socket/websocket.ts";
export {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_PING_INTERVAL,
  DEFAULT_READ_BUFFER_SIZE,
  WRITE_HIGH_WATER_BYTES,
} from "./socket/options.ts";
export { type PublishData, TopicRegistry } from "./socket/pubsub.ts";
export {
  DEFAULT_HEADERS_TIMEOUT,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_SHUTDOWN_TIMEOUT,
  HttpError,
  MAX_OVERLOAD_REFUSALS,
  OVERLOAD_RETRY_AFTER_SECONDS,
  serve,
  type ServeHandler,
  type ServeHandlerInfo,
  serveNodeNet,
  type ServeOptions,
  type Server,
  type UpgradeOptions,
  type UpgradeResult,
  upgradeWebSocket,
} from "./server/serve.ts";
export {
  connect,
  type ConnectOptions,
  DEFAULT_HANDSHAKE_TIMEOUT,
  MAX_RESPONSE_HEAD_BYTES,
  MAX_RESPONSE_HEADER_COUNT,
} from "./client/connect.ts";
export {
  DEFLATE_TAIL,
  deflateMessage,
  inflateMessage,
  MAX_DEFLATE_RATIO,
} from "./deflate/payload.ts";
export {
  acceptDeflateResponse,
  createDeflateOffer,
  DEFAULT_COMPRESSION_THRESHOLD,
  type DeflateNegotiation,
  type DeflateOfferVerdict,
  describeDeclinedOffers,
  evaluateDeflateOffer,
  MAX_WINDOW_BITS,
  MIN_WINDOW_BITS,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
  type PerMessageDeflateOptions,
  type PerMessageDeflateParams,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from "./deflate/negotiation.ts";
export type { NegotiatedDeflate } from "./socket/websocket.ts";
export {
  CLOSE_LINGER_MAX_BYTES,
  CLOSE_LINGER_TIMEOUT,
} from "./socket/reader.ts";
