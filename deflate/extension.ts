/**
 * permessage-deflate (RFC 7692) as a `Protocol` {@linkcode Extension}: the
 * receiving side, which inflates every message that arrived with RSV1 set.
 * Sending compressed messages stays with the socket's send queue, which
 * compresses with the platform's asynchronous `CompressionStream` and
 * frames the result with `Protocol.sendCompressed`.
 *
 * @module
 */

import type { Extension } from "../protocol/extension.ts";
import { PERMESSAGE_DEFLATE } from "./negotiation.ts";
import { inflateMessage } from "./payload.ts";

/**
 * The permessage-deflate extension of one connection. It keeps no LZ77
 * window from one message to the next, which is what negotiation agrees
 * (`client_no_context_takeover` and `server_no_context_takeover`, see
 * `negotiation.ts`).
 *
 * @example
 * ```ts
 * import { PerMessageDeflate, Protocol } from "@rfc6455/websocket/codec";
 *
 * // After a handshake that agreed permessage-deflate:
 * const protocol = new Protocol({
 *   role: "server",
 *   extension: new PerMessageDeflate(),
 * });
 * ```
 */
export class PerMessageDeflate implements Extension {
  /** "permessage-deflate". */
  readonly name: string = PERMESSAGE_DEFLATE;

  /**
   * Inflates one compressed message, as {@linkcode inflateMessage} does.
   *
   * @param payload the message's payload, without the 00 00 ff ff tail
   * @param maxSize the most bytes the message may inflate to
   * @returns the message
   * @throws {MessageTooBigError} (1009) when it inflates past `maxSize`
   * @throws {InvalidPayloadError} (1007) for invalid DEFLATE data
   */
  decode(payload: Uint8Array, maxSize: number): Uint8Array {
    return inflateMessage(payload, maxSize);
  }
}
