/**
 * The permessage-deflate compressors of the `./deflate` entry, on the npm
 * `pako` package (a port of zlib to JavaScript, through its low-level
 * `deflate` calls): a dedicated compressor per connection that keeps its
 * window across messages (context takeover), flushing with `Z_SYNC_FLUSH`
 * at the end of each message, or one shared compressor for every
 * connection that keeps nothing (`Z_FULL_FLUSH` after every call), and the
 * presets that size them. The only module that imports a package; nothing
 * in `./codec`, `./server` or the root loads it.
 *
 * @module
 */

import {
  Z_BUF_ERROR,
  Z_DEFAULT_STRATEGY,
  Z_FULL_FLUSH,
  Z_OK,
  Z_SYNC_FLUSH,
  zlibDeflate,
  zlibDeflateInit2,
  ZStream,
} from "pako";
import { concatBytes } from "../frame/bytes.ts";
import type { CompressorFactory, MessageCompressor } from "./compressor.ts";
import {
  type DeflateDirection,
  MAX_WINDOW_BITS,
  type PerMessageDeflateOptions,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from "./negotiation.ts";
import type { PerMessageDeflateSetup } from "./extension.ts";

/** zlib's method number for DEFLATE. */
const Z_DEFLATED = 8;
/** The compression level zlib (and so `ws`) uses by default. */
const DEFAULT_LEVEL = 6;
/** Output is gathered here, shared: compressing is synchronous. */
const SCRATCH_SIZE = 64 * 1024;
const scratch = new Uint8Array(SCRATCH_SIZE);
const EMPTY = new Uint8Array(0);
/** The payload of an empty message (RFC 7692 section 7.2.3.6). */
const EMPTY_MESSAGE = Uint8Array.of(0);

/**
 * How much memory each connection's compressor may use, in the spirit of
 * uWebSockets' compressors: `"shared"` is one compressor for all
 * connections with no context takeover either way (nothing held per
 * connection); `"dedicated-<n>k"` gives each connection a compressor of
 * about n KiB that keeps its window across messages, and bounds the peer's
 * window (what this end keeps to inflate) to the same window size. See the
 * README for the measured cost of each.
 */
export type CompressionPreset =
  | "shared"
  | "dedicated-4k"
  | "dedicated-8k"
  | "dedicated-16k"
  | "dedicated-32k"
  | "dedicated-64k"
  | "dedicated-128k"
  | "dedicated-256k";

/** A preset's window (log2 bytes), zlib memory level, and sharing. */
interface PresetShape {
  windowBits: number;
  memLevel: number;
  shared: boolean;
}

/** zlib's memory for a window of 2^w and memory level m is 2^(w+2) +
 * 2^(m+9) bytes (its hash table sized by m, as with pako's legacy hash),
 * which names the dedicated presets. */
const PRESETS: Readonly<Record<CompressionPreset, PresetShape>> = {
  "shared": { windowBits: 15, memLevel: 8, shared: true },
  "dedicated-4k": { windowBits: 9, memLevel: 2, shared: false },
  "dedicated-8k": { windowBits: 10, memLevel: 3, shared: false },
  "dedicated-16k": { windowBits: 11, memLevel: 4, shared: false },
  "dedicated-32k": { windowBits: 12, memLevel: 5, shared: false },
  "dedicated-64k": { windowBits: 13, memLevel: 6, shared: false },
  "dedicated-128k": { windowBits: 14, memLevel: 7, shared: false },
  "dedicated-256k": { windowBits: 15, memLevel: 8, shared: false },
};

/** The preset {@linkcode perMessageDeflate} uses by default. */
export const DEFAULT_PRESET: CompressionPreset = "dedicated-32k";

/** Options of {@linkcode perMessageDeflate}: what to negotiate (in `ws`'s
 * vocabulary, overriding the preset) and how hard to compress. */
export interface DeflateSetupOptions extends PerMessageDeflateOptions {
  /** Memory per connection: see {@linkcode CompressionPreset}. Default
   * `"dedicated-32k"`. */
  preset?: CompressionPreset;
  /** zlib's compression level, 1 (fastest) to 9 (smallest). Default 6, as
   * zlib and `ws`. */
  level?: number;
  /** zlib's memory level, 1 to 9: the hash table of each compressor.
   * Default the preset's. */
  memLevel?: number;
}

/** Starts a raw deflate stream with `windowBits` (9 for 8: zlib's raw
 * deflate refuses 8, and with 9 bits it refers at most 2^9 - 262 = 250
 * bytes back, within a 256-byte window). */
function startStream(
  windowBits: number,
  level: number,
  memLevel: number,
): ZStream {
  const stream = new ZStream();
  const status = zlibDeflateInit2(
    stream,
    level,
    Z_DEFLATED,
    -Math.max(windowBits, 9),
    memLevel,
    Z_DEFAULT_STRATEGY,
    // The legacy hash table follows memLevel; the other is always 64 KiB.
    true,
  );
  if (status !== Z_OK) {
    throw new RangeError(
      `cannot start a compressor (level ${level}, memLevel ${memLevel}, windowBits ${windowBits}): zlib status ${status}`,
    );
  }
  return stream;
}

/** Whether `bytes` ends with the `00 00 ff ff` a flush leaves. */
function endsWithTail(bytes: Uint8Array, length: number): boolean {
  return length >= 4 && bytes[length - 4] === 0 && bytes[length - 3] === 0 &&
    bytes[length - 2] === 0xff && bytes[length - 1] === 0xff;
}

/** Compresses `data` through `stream` with `flush`, and returns the output,
 * without the tail when `end` (RFC 7692 section 7.2.1). */
function deflateThrough(
  stream: ZStream,
  data: Uint8Array,
  flush: number,
  end: boolean,
): Uint8Array {
  stream.input = data;
  stream.next_in = 0;
  stream.avail_in = data.length;
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    stream.output = scratch;
    stream.next_out = 0;
    stream.avail_out = SCRATCH_SIZE;
    const status = zlibDeflate(stream, flush as typeof Z_SYNC_FLUSH);
    // Z_BUF_ERROR: nothing to do (no input, and flushed already).
    if (status !== Z_OK && status !== Z_BUF_ERROR) {
      throw new Error(`zlib deflate failed with status ${status}`);
    }
    length = stream.next_out;
    if (stream.avail_out !== 0) break;
    chunks.push(scratch.slice(0, length));
    length = 0;
  }
  stream.input = EMPTY; // the caller's bytes are not kept
  let output: Uint8Array;
  if (chunks.length === 0) {
    if (end && endsWithTail(scratch, length)) length -= 4;
    else if (end && length === 0) return EMPTY_MESSAGE.slice();
    return scratch.slice(0, length);
  }
  chunks.push(scratch.subarray(0, length));
  output = concatBytes(chunks);
  if (end && endsWithTail(output, output.length)) {
    output = output.subarray(0, output.length - 4);
  }
  return output;
}

/** A compressor of its own for one connection: with context takeover its
 * window carries over from one message to the next; without, each message
 * ends with a full flush, after which nothing refers back. */
class DedicatedCompressor implements MessageCompressor {
  readonly #stream: ZStream;
  readonly #endFlush: number;

  constructor(direction: DeflateDirection, level: number, memLevel: number) {
    this.#stream = startStream(direction.windowBits, level, memLevel);
    this.#endFlush = direction.noContextTakeover ? Z_FULL_FLUSH : Z_SYNC_FLUSH;
  }

  compress(data: Uint8Array, end: boolean): Uint8Array {
    return deflateThrough(
      this.#stream,
      data,
      end ? this.#endFlush : Z_SYNC_FLUSH,
      end,
    );
  }
}

/** One compressor for many connections: every call ends with a full flush,
 * so calls refer to nothing before them and may come from any connection
 * in any order, fragments of different messages included. */
class SharedCompressor implements MessageCompressor {
  readonly #stream: ZStream;

  constructor(windowBits: number, level: number, memLevel: number) {
    this.#stream = startStream(windowBits, level, memLevel);
  }

  compress(data: Uint8Array, end: boolean): Uint8Array {
    return deflateThrough(this.#stream, data, Z_FULL_FLUSH, end);
  }
}

/** The compressors of one setup. */
class ZlibCompressors implements CompressorFactory {
  readonly #level: number;
  readonly #memLevel: number;
  readonly #shared: boolean;
  /** Shared compressors by window bits, made when first needed. */
  readonly #sharedByWindow = new Map<number, SharedCompressor>();

  constructor(level: number, memLevel: number, shared: boolean) {
    this.#level = level;
    this.#memLevel = memLevel;
    this.#shared = shared;
  }

  createCompressor(direction: DeflateDirection): MessageCompressor {
    if (!this.#shared || !direction.noContextTakeover) {
      return new DedicatedCompressor(direction, this.#level, this.#memLevel);
    }
    let compressor = this.#sharedByWindow.get(direction.windowBits);
    if (compressor === undefined) {
      compressor = new SharedCompressor(
        direction.windowBits,
        this.#level,
        this.#memLevel,
      );
      this.#sharedByWindow.set(direction.windowBits, compressor);
    }
    return compressor;
  }
}

function checkLevel(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min || value > 9) {
    throw new RangeError(
      `permessage-deflate ${name} must be an integer from ${min} to 9, got ${value}`,
    );
  }
  return value;
}

/**
 * permessage-deflate for a server's or client's `perMessageDeflate` option:
 * negotiation options from a preset (overridden by the options given) and
 * zlib compressors that flush at each message's end.
 *
 * @example
 * ```ts
 * import { perMessageDeflate } from "@rfc6455/websocket/deflate";
 *
 * // Each connection compresses with its own 32 KiB compressor and context
 * // takeover: streams of similar messages shrink several times more.
 * const deflate = perMessageDeflate();
 * // One compressor for every connection, nothing kept per connection:
 * const lean = perMessageDeflate({ preset: "shared", threshold: 4096 });
 * if (deflate.options.serverMaxWindowBits !== 12) throw new Error("?");
 * if (!lean.options.serverNoContextTakeover) throw new Error("?");
 * ```
 *
 * @param options the preset, negotiation options and zlib settings
 * @returns the setup to pass as `perMessageDeflate` to `upgradeWebSocket`,
 * `serve`'s sockets or `connect`
 * @throws {RangeError} for an unknown preset or an invalid option
 */
export function perMessageDeflate(
  options: DeflateSetupOptions = {},
): PerMessageDeflateSetup {
  const presetName = options.preset ?? DEFAULT_PRESET;
  if (!Object.hasOwn(PRESETS, presetName)) {
    throw new RangeError(`unknown permessage-deflate preset ${presetName}`);
  }
  const preset = PRESETS[presetName];
  const level = checkLevel("level", options.level ?? DEFAULT_LEVEL, 1);
  const memLevel = checkLevel(
    "memLevel",
    options.memLevel ?? preset.memLevel,
    1,
  );
  const windowBits = preset.shared ? MAX_WINDOW_BITS : preset.windowBits;
  const negotiated: ResolvedDeflateOptions = resolveDeflateOptions({
    serverNoContextTakeover: options.serverNoContextTakeover ?? preset.shared,
    clientNoContextTakeover: options.clientNoContextTakeover ?? preset.shared,
    serverMaxWindowBits: options.serverMaxWindowBits ?? windowBits,
    clientMaxWindowBits: options.clientMaxWindowBits ?? windowBits,
    threshold: options.threshold,
  });
  return Object.freeze({
    options: negotiated,
    compressors: new ZlibCompressors(level, memLevel, preset.shared),
  });
}
