/**
 * The RFC 6455 opening handshake, both sides, with no I/O, and the
 * permessage-deflate (RFC 7692) negotiation that rides on it. Only Web APIs
 * (Web Crypto SHA-1, `btoa`, `Headers`) are used: this entry loads in Deno,
 * Bun, Node and browsers.
 *
 * A server checks the request with {@linkcode validateUpgradeRequest}, picks
 * a subprotocol with {@linkcode selectProtocol} and extensions with
 * {@linkcode negotiateDeflate}, and writes
 * {@linkcode buildUpgradeResponseHead} (or answers a
 * {@linkcode HandshakeError} with {@linkcode refusalResponse}). A client
 * writes the head from {@linkcode createClientHandshake} and checks the
 * answer with {@linkcode verifyServerResponse}.
 *
 * @example A server's answer to a client's request
 * ```ts
 * import {
 *   buildUpgradeResponseHead,
 *   computeAcceptKey,
 *   validateUpgradeRequest,
 * } from "@rfc6455/websocket/handshake";
 *
 * // The request of RFC 6455 section 1.3, as a server received it.
 * const { key } = validateUpgradeRequest({
 *   method: "GET",
 *   httpVersion: "1.1",
 *   headers: new Headers({
 *     Host: "server.example.com",
 *     Upgrade: "websocket",
 *     Connection: "Upgrade",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "Sec-WebSocket-Version": "13",
 *   }),
 * });
 * const head = buildUpgradeResponseHead(await computeAcceptKey(key));
 * if (!head.includes("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) {
 *   throw new Error("not the RFC's answer");
 * }
 * ```
 *
 * @module
 */

export { HandshakeError } from "./errors.ts";
export {
  computeAcceptKey,
  generateKey,
  KEY_BYTE_LENGTH,
  WEBSOCKET_GUID,
  WEBSOCKET_VERSION,
} from "./handshake/accept_key.ts";
export {
  buildUpgradeResponseHead,
  type ProtocolSelector,
  refusalResponse,
  selectProtocol,
  type UpgradeRequestInfo,
  type ValidatedUpgrade,
  validateUpgradeRequest,
} from "./handshake/server.ts";
export {
  type ClientHandshake,
  type ClientRequestOptions,
  createClientHandshake,
  type ServerResponseInfo,
  type VerifiedResponse,
  verifyServerResponse,
} from "./handshake/client.ts";
export {
  ForbiddenOriginError,
  normalizeOrigin,
  OriginPolicy,
} from "./handshake/origin.ts";
export {
  type ExtensionOffer,
  formatExtensions,
  parseExtensions,
  parseProtocols,
} from "./http1/header_grammar.ts";
export {
  acceptDeflateResponse,
  createDeflateOffer,
  type DeflateNegotiation,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
  type PerMessageDeflateOptions,
  type PerMessageDeflateParams,
} from "./deflate/negotiation.ts";
