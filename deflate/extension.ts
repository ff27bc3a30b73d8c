/**
 * permessage-deflate (RFC 7692) as a `Protocol` {@linkcode Extension}, one
 * per connection: it inflates every message that arrived with RSV1 set,
 * keeping the peer's window across messages under context takeover, and
 * compresses the messages sent with a compressor from a
 * {@linkcode CompressorFactory}, synchronously.
 *
 * @module
 */

import type { Extension } from "../protocol/extension.ts";
import type { Role } from "../protocol/types.ts";
import {
  type DeflateDirection,
  deflateDirections,
  deflateThreshold,
  MAX_WINDOW_BITS,
  PERMESSAGE_DEFLATE,
  type PerMessageDeflateParams,
  type ResolvedDeflateOptions,
} from "./negotiation.ts";
import { inflateMessage } from "./payload.ts";
import { InflateWindow } from "./inflate.ts";
import type { CompressorFactory, MessageCompressor } from "./compressor.ts";

/**
 * What a server's or client's `perMessageDeflate` option takes: the options
 * to negotiate with and where each connection's compressor comes from.
 * `perMessageDeflate()` from the `./deflate` entry makes one.
 */
export interface PerMessageDeflateSetup {
  /** The options negotiated with, defaults applied. */
  readonly options: ResolvedDeflateOptions;
  /** Makes the compressor of each connection that agreed. */
  readonly compressors: CompressorFactory;
}

/**
 * Checks a `perMessageDeflate` option: `false` or absent turn compression
 * off, anything else must be a {@linkcode PerMessageDeflateSetup}.
 *
 * @param option the option as given
 * @returns the setup, or undefined when off
 * @throws {TypeError} for `true` or plain options: the compressor comes
 * from the `./deflate` entry
 */
export function checkDeflateSetup(
  option: unknown,
): PerMessageDeflateSetup | undefined {
  if (option === undefined || option === false) return undefined;
  const setup = option as Partial<PerMessageDeflateSetup>;
  if (
    typeof option !== "object" || option === null ||
    typeof setup.options !== "object" ||
    typeof setup.compressors?.createCompressor !== "function"
  ) {
    throw new TypeError(
      'perMessageDeflate takes what perMessageDeflate() from "@rfc6455/websocket/deflate" returns, or false',
    );
  }
  return setup as PerMessageDeflateSetup;
}

/** How to build a {@linkcode PerMessageDeflate}. */
export interface PerMessageDeflateInit {
  /** What the handshake agreed. Default: no context takeover either way,
   * 32 KiB windows. */
  params?: PerMessageDeflateParams;
  /** Which end this is. Default "server". */
  role?: Role;
  /** Where the compressor comes from (created at the first message sent).
   * Without one, the extension only inflates. */
  compressors?: CompressorFactory;
  /** Smallest message compressed unless `send` says otherwise. Default
   * `DEFAULTS.deflate.takeoverThreshold` when this end compresses with
   * context takeover, else `DEFAULTS.deflate.threshold`. */
  threshold?: number;
}

const NO_TAKEOVER: PerMessageDeflateParams = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: MAX_WINDOW_BITS,
  clientMaxWindowBits: MAX_WINDOW_BITS,
};

/**
 * The permessage-deflate extension of one connection.
 *
 * @example
 * ```ts
 * import { PerMessageDeflate, Protocol } from "@rfc6455/websocket/codec";
 *
 * // After a handshake that agreed permessage-deflate with context
 * // takeover, as a server that only inflates:
 * const protocol = new Protocol({
 *   role: "server",
 *   extension: new PerMessageDeflate({
 *     params: {
 *       serverNoContextTakeover: false,
 *       clientNoContextTakeover: false,
 *       serverMaxWindowBits: 15,
 *       clientMaxWindowBits: 15,
 *     },
 *   }),
 * });
 * ```
 */
export class PerMessageDeflate implements Extension {
  /** "permessage-deflate". */
  readonly name: string = PERMESSAGE_DEFLATE;
  /** Smallest message compressed unless `send` says otherwise. */
  readonly threshold: number;
  /** The peer's earlier output; null without context takeover. */
  readonly #window: InflateWindow | null;
  readonly #send: DeflateDirection;
  readonly #compressors: CompressorFactory | null;
  #compressor: MessageCompressor | null = null;
  /**
   * Compresses the next part of a message sent, flushed so that it decodes
   * from what was sent before; the compressor is created at the first call.
   * Absent when the extension was built without compressors: it only
   * inflates.
   */
  readonly encode?: (data: Uint8Array, end: boolean) => Uint8Array;

  /**
   * The extension of one connection, as agreed.
   *
   * @param init what was agreed and how to compress
   * @throws {RangeError} for an invalid threshold
   */
  constructor(init: PerMessageDeflateInit = {}) {
    const { send, receive } = deflateDirections(
      init.params ?? NO_TAKEOVER,
      init.role ?? "server",
    );
    this.#send = send;
    this.#window = receive.noContextTakeover
      ? null
      : new InflateWindow(receive.windowBits);
    this.#compressors = init.compressors ?? null;
    if (this.#compressors !== null) {
      this.encode = (data, end) => this.#encode(data, end);
    }
    this.threshold = deflateThreshold(init.threshold, send.noContextTakeover);
    if (!Number.isSafeInteger(this.threshold) || this.threshold < 0) {
      throw new RangeError(
        `permessage-deflate threshold must be a non-negative safe integer, got ${this.threshold}`,
      );
    }
  }

  /** Bytes of the peer's window held between messages (0 until the first
   * compressed message, and without context takeover). */
  get heldWindowBytes(): number {
    return this.#window?.heldBytes ?? 0;
  }

  /**
   * Inflates one compressed message, as {@linkcode inflateMessage} does,
   * with the peer's earlier messages as the window under context takeover.
   *
   * @param payload the message's payload, without the 00 00 ff ff tail
   * @param maxSize the most bytes the message may inflate to
   * @returns the message
   * @throws {MessageTooBigError} (1009) when it inflates past `maxSize`
   * @throws {InvalidPayloadError} (1007) for invalid DEFLATE data, or a
   * back reference past what the peer may refer to
   */
  decode(payload: Uint8Array, maxSize: number): Uint8Array {
    return inflateMessage(payload, maxSize, this.#window ?? undefined);
  }

  #encode(data: Uint8Array, end: boolean): Uint8Array {
    this.#compressor ??= this.#compressors!.createCompressor(this.#send);
    return this.#compressor.compress(data, end);
  }
}
