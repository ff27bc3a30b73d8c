/**
 * What permessage-deflate needs from a DEFLATE compressor, with no
 * implementation: the `./deflate` entry provides one (`deflate/zlib_compressor.ts`,
 * on the npm `pako` port of zlib), so that the pure layers, and users who
 * never compress, load no compressor.
 *
 * @module
 */

import type { DeflateDirection } from "./negotiation.ts";

/**
 * Compresses the messages one end sends on one connection (RFC 7692
 * section 7.2.1). Every call flushes (zlib's `Z_SYNC_FLUSH`, never a final
 * block), so what it returns decodes to everything given so far, and a
 * receiver that keeps one inflater across messages reads every message.
 */
export interface MessageCompressor {
  /**
   * Compresses the next part of a message.
   *
   * @param data the bytes; not modified, not kept
   * @param end whether the message ends here: then the returned bytes lack
   * the `00 00 ff ff` tail (section 7.2.1), and without context takeover
   * nothing compressed later refers back to this message
   * @returns the compressed bytes, in memory of their own
   */
  compress(data: Uint8Array, end: boolean): Uint8Array;
}

/** Creates the compressor of each connection that agreed permessage-deflate. */
export interface CompressorFactory {
  /**
   * A compressor for one direction of one connection.
   *
   * @param direction the window it may use and whether it keeps context
   * from one message to the next
   * @returns the compressor; it may be shared by connections when it keeps
   * no context
   */
  createCompressor(direction: DeflateDirection): MessageCompressor;
}
