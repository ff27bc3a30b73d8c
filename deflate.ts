/**
 * permessage-deflate (RFC 7692) compression for the server and the client:
 * {@linkcode perMessageDeflate} makes what their `perMessageDeflate` option
 * takes. Each connection compresses with context takeover (messages refer
 * back to earlier ones, so streams of small, similar messages shrink
 * several times more than each on its own) and flushes at every message's
 * end, with memory per connection set by a {@linkcode CompressionPreset}.
 *
 * The one entry with a dependency: the compressor is the npm `pako`
 * package (a port of zlib), so users who do not compress never load it.
 * Inflating needs no package and lives in `./codec`.
 *
 * @example Compression for every upgrade of a server
 * ```ts
 * import { perMessageDeflate } from "@rfc6455/websocket/deflate";
 *
 * const deflate = perMessageDeflate({ preset: "dedicated-32k" });
 * // upgradeWebSocket(request, { perMessageDeflate: deflate });
 * // connect(url, { perMessageDeflate: deflate });
 * if (deflate.options.clientMaxWindowBits !== 12) throw new Error("?");
 * ```
 *
 * @module
 */

export {
  type CompressionPreset,
  DEFAULT_PRESET,
  type DeflateSetupOptions,
  perMessageDeflate,
} from "./deflate/zlib_compressor.ts";
export type {
  CompressorFactory,
  MessageCompressor,
} from "./deflate/compressor.ts";
export type { PerMessageDeflateSetup } from "./deflate/extension.ts";
export type {
  DeflateDirection,
  PerMessageDeflateOptions,
  ResolvedDeflateOptions,
} from "./deflate/negotiation.ts";
