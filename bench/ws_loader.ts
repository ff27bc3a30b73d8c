/**
 * Loads the pieces of the npm `ws` package the benchmarks compare against,
 * in two variants in the same process: as `ws` runs by default here (its
 * masking through the native `bufferutil` addon, its UTF-8 check through
 * `buffer.isUtf8`) and with its pure-JavaScript fallbacks.
 *
 * `ws` chooses its helpers once, when `lib/buffer-util.js` and
 * `lib/validation.js` are first required, so each variant is a fresh load of
 * the package: the `ws` entries are dropped from the CommonJS cache, the
 * switch is flipped (`WS_NO_BUFFER_UTIL`, a missing `buffer.isUtf8`), the
 * package is required again and the switch is put back.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** `ws`'s frame parser: a Node `Writable` emitting `"message"` events. */
export interface WsReceiver {
  /** Feeds received bytes; messages are emitted synchronously. */
  write(chunk: Buffer): boolean;
  /** Adds an event listener. */
  on(event: string, listener: (...args: never[]) => void): WsReceiver;
}

/** The options of `ws`'s `Sender.frame` the benchmarks use. */
export interface WsFrameOptions {
  /** Whether to set FIN. */
  fin: boolean;
  /** The frame's opcode. */
  opcode: number;
  /** Whether to mask the payload. */
  mask: boolean;
  /** Whether the payload may not be modified. */
  readOnly: boolean;
  /** Whether to set RSV1. */
  rsv1: boolean;
}

/** One load of the `ws` package. */
export interface WsVariant {
  /** How this load masks and validates, for bench names. */
  label: string;
  /** `ws`'s `Receiver` class (`lib/receiver.js`). */
  Receiver: new (options: { isServer: boolean }) => WsReceiver;
  /** `ws`'s `Sender.frame`, which frames a payload without a socket. */
  frame: (data: Buffer | string, options: WsFrameOptions) => Buffer[];
  /** `ws`'s in-place unmasking (`lib/buffer-util.js`). */
  unmask: (buffer: Buffer, mask: Buffer) => void;
  /** `ws`'s UTF-8 check (`lib/validation.js`). */
  isValidUTF8: (buffer: Buffer) => boolean;
}

const wsEntry = require.resolve("ws");
const wsDirectory = wsEntry.slice(0, wsEntry.length - "index.js".length);

function forgetWsModules(): void {
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(wsDirectory)) delete require.cache[key];
  }
}

function requireWs(label: string): WsVariant {
  forgetWsModules();
  const ws = require(wsEntry);
  const bufferUtil = require(wsDirectory + "lib/buffer-util.js");
  const validation = require(wsDirectory + "lib/validation.js");
  return {
    label,
    Receiver: ws.Receiver,
    frame: ws.Sender.frame,
    unmask: bufferUtil.unmask,
    isValidUTF8: validation.isValidUTF8,
  };
}

/** Whether the native `bufferutil` addon loads (not its JS fallback). */
export function nativeBufferUtilLoads(): boolean {
  try {
    const bufferUtil = require("bufferutil");
    return String(bufferUtil.unmask).includes("[native code]");
  } catch {
    return false;
  }
}

/**
 * `ws` as it runs by default: `bufferutil` for masking when installed,
 * `buffer.isUtf8` for UTF-8 of 24 bytes and more.
 */
export function loadWsNative(): WsVariant {
  const label = nativeBufferUtilLoads() ? "ws+bufferutil" : "ws";
  return requireWs(label);
}

/**
 * `ws` with its pure-JavaScript masking (`WS_NO_BUFFER_UTIL=1`) and UTF-8
 * check (no `buffer.isUtf8`, no `utf-8-validate`).
 */
export function loadWsPureJs(): WsVariant {
  const bufferModule = require("buffer");
  const isUtf8 = bufferModule.isUtf8;
  const previous = Deno.env.get("WS_NO_BUFFER_UTIL");
  Deno.env.set("WS_NO_BUFFER_UTIL", "1");
  bufferModule.isUtf8 = undefined;
  try {
    return requireWs("ws (pure JS)");
  } finally {
    bufferModule.isUtf8 = isUtf8;
    if (previous === undefined) Deno.env.delete("WS_NO_BUFFER_UTIL");
    else Deno.env.set("WS_NO_BUFFER_UTIL", previous);
    forgetWsModules();
  }
}

/** A `Buffer` viewing the same memory as `bytes` (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
