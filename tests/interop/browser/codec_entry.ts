/**
 * The browser bundle's entry point: puts the pure modules on
 * `globalThis.rfc6455` so that `page.evaluate` callbacks can reach them.
 * Bundled by `browser_deno_test.ts`; never imported by Deno directly.
 *
 * @module
 */

import * as errors from "../../../errors.ts";
import * as frame from "../../../frame/encoder.ts";
import * as handshake from "../../../handshake/handshake.ts";
import * as protocol from "../../../protocol/protocol.ts";

/** The modules the page exposes. */
export interface Codec {
  /** `errors.ts` */
  errors: typeof errors;
  /** `frame.ts` */
  frame: typeof frame;
  /** `handshake.ts` */
  handshake: typeof handshake;
  /** `protocol.ts` */
  protocol: typeof protocol;
}

const codec: Codec = { errors, frame, handshake, protocol };
(globalThis as { rfc6455?: Codec }).rfc6455 = codec;
