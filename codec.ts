/**
 * Everything of the WebSocket protocol that does no I/O, in one entry: the
 * frame codec (`./frame`), the sans-I/O protocol machine
 * ({@linkcode Protocol}: bytes in, events and bytes out), the opening
 * handshake and the permessage-deflate negotiation (`./handshake`),
 * permessage-deflate as the protocol's {@linkcode PerMessageDeflate}
 * extension (messages leave the protocol inflated), the typed errors
 * and {@linkcode DEFAULTS}.
 *
 * It imports nothing runtime-specific and starts nothing when loaded: it
 * runs unchanged in Deno, Bun, Node, browsers and edge runtimes, and
 * bundles for the browser with `deno bundle --platform browser` or
 * `esbuild --platform=browser`. Drive it from any transport.
 *
 * @example A server-side protocol machine fed by hand
 * ```ts
 * import { encodeFrame, Opcode, Protocol } from "@rfc6455/websocket/codec";
 *
 * const protocol = new Protocol({ role: "server" });
 * const fromClient = encodeFrame(Opcode.Text, new TextEncoder().encode("hi"), {
 *   mask: true,
 * });
 * protocol.push(fromClient);
 * for (let event = protocol.nextEvent(); event; event = protocol.nextEvent()) {
 *   if (event.type === "text") protocol.sendText(event.data.toUpperCase());
 * }
 * const toWrite: Uint8Array[] = protocol.takeOutgoing(); // [0x81 0x02 "HI"]
 * if (toWrite.length !== 1 || toWrite[0][0] !== 0x81) throw new Error("?");
 * ```
 *
 * @module
 */

export * from "./frame.ts";
export * from "./handshake.ts";
export * from "./errors.ts";
export { type FrameSink, Protocol } from "./protocol/protocol.ts";
export type { Extension } from "./protocol/extension.ts";
export type { FrameAllocator } from "./frame/pool.ts";
export {
  PerMessageDeflate,
  type PerMessageDeflateInit,
  type PerMessageDeflateSetup,
} from "./deflate/extension.ts";
export type {
  CompressorFactory,
  MessageCompressor,
} from "./deflate/compressor.ts";
export { InflateWindow } from "./deflate/inflate.ts";
export {
  type ProtocolEvent,
  type ProtocolOptions,
  ReadyState,
  type Role,
  type SendOptions,
} from "./protocol/types.ts";
export {
  DEFLATE_TAIL,
  deflateMessage,
  inflateMessage,
} from "./deflate/payload.ts";
export {
  type DeflateDirection,
  deflateDirections,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from "./deflate/negotiation.ts";
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
