/**
 * WebSocket frames on `Uint8Array` (RFC 6455 section 5): an incremental
 * decoder that takes bytes in any split and checks every header rule before
 * it buffers a payload, an encoder, masking, close payloads and strict
 * UTF-8. Pure: only Web APIs (`crypto.getRandomValues`, `TextDecoder`), so
 * this entry loads in Deno, Bun, Node and browsers.
 *
 * @example Encode a frame and decode it back, split anywhere
 * ```ts
 * import { encodeFrame, FrameDecoder, Opcode } from "@rfc6455/websocket/frame";
 *
 * const bytes = encodeFrame(Opcode.Text, new TextEncoder().encode("Hello"), {
 *   mask: true,
 * });
 * const decoder = new FrameDecoder({ expectMasked: true });
 * decoder.push(bytes.subarray(0, 3));
 * if (decoder.next() !== undefined) throw new Error("only 3 bytes so far");
 * decoder.push(bytes.subarray(3));
 * const frame = decoder.next();
 * if (new TextDecoder().decode(frame?.payload) !== "Hello") {
 *   throw new Error("round trip failed");
 * }
 * ```
 *
 * @module
 */

export { FrameDecoder, type FrameDecoderOptions } from "./frame/decoder.ts";
export {
  encodeFrame,
  type EncodeOptions,
  encodeTextFrame,
  isControlOpcode,
} from "./frame/encoder.ts";
export {
  type Frame,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  type PartialFrame,
  RSV1,
  RSV2,
  RSV3,
} from "./frame/types.ts";
export { applyMask, randomMaskKey } from "./frame/mask.ts";
export {
  encodeClosePayload,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
} from "./frame/close_payload.ts";
export {
  decodeUtf8,
  isValidUtf8,
  utf8ByteLength,
  Utf8Validator,
} from "./frame/utf8.ts";
export {
  CloseCode,
  InvalidPayloadError,
  MessageTooBigError,
  ProtocolError,
  type ProtocolRule,
  WebSocketError,
} from "./errors.ts";
