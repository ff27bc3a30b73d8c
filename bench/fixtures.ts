/**
 * The bytes the benchmarks work on, built once, deterministically, so every
 * implementation in a group sees the same input.
 *
 * @module
 */

import { encodeFrame } from "../frame/encoder.ts";
import { Opcode } from "../frame/types.ts";
import { concatBytes } from "../frame/bytes.ts";

/** The payload sizes every frame benchmark covers. */
export const PAYLOAD_SIZES: readonly number[] = [
  16,
  125,
  1024,
  64 * 1024,
  1024 * 1024,
];

/** Decoders are fed the stream in pieces of this size, like socket reads. */
export const CHUNK_SIZE = 64 * 1024;

/** A human label for a byte count: "16 B", "1 KiB", "64 KiB", "1 MiB". */
export function sizeLabel(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) {
    return `${bytes / (1024 * 1024)} MiB`;
  }
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/**
 * How many frames one decode iteration goes through: enough that a stream
 * spans several chunks (about 1 MiB of payload), at most 4096 frames, at
 * least 4.
 */
export function framesPerStream(payloadSize: number): number {
  const wanted = Math.floor((1024 * 1024) / payloadSize);
  return Math.max(4, Math.min(4096, wanted));
}

/** A small deterministic generator (xorshift32), so runs see equal bytes. */
export class Xorshift {
  #state: number;

  /** Starts the sequence at `seed` (not 0). */
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }

  /** The next 32-bit value. */
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.#state = x;
    return x;
  }

  /** `length` pseudo-random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let index = 0; index < length; index++) {
      out[index] = this.next() & 0xff;
    }
    return out;
  }

  /** A 4-byte masking key with no zero byte (`ws` skips all-zero keys). */
  maskKey(): Uint8Array {
    const key = new Uint8Array(4);
    for (let index = 0; index < 4; index++) {
      key[index] = 1 + (this.next() % 255);
    }
    return key;
  }
}

/** A stream of masked client frames and what it should decode to. */
export interface ClientStream {
  /** The payload size of every frame. */
  payloadSize: number;
  /** How many frames (each one complete message). */
  frameCount: number;
  /** The frames back to back, as a client sends them. */
  bytes: Uint8Array;
  /** The unmasked payload of every frame, in order. */
  payloads: Uint8Array[];
}

/**
 * Builds `frameCount` masked frames of `payloadSize` bytes, each with its
 * own masking key, as one stream: binary frames of random bytes, or text
 * frames of mixed UTF-8 ({@linkcode buildText}).
 */
export function buildClientStream(
  payloadSize: number,
  frameCount: number,
  kind: "binary" | "text" = "binary",
): ClientStream {
  const random = new Xorshift(0x9e3779b9 ^ payloadSize);
  const text = kind === "text"
    ? new TextEncoder().encode(buildText(payloadSize, "mixed"))
    : null;
  const payloads: Uint8Array[] = [];
  const frames: Uint8Array[] = [];
  for (let index = 0; index < frameCount; index++) {
    const payload = text ?? random.bytes(payloadSize);
    const frame = encodeFrame(text ? Opcode.Text : Opcode.Binary, payload, {
      mask: random.maskKey(),
    });
    payloads.push(payload);
    frames.push(frame);
  }
  const bytes = concatBytes(frames);
  return { payloadSize, frameCount, bytes, payloads };
}

/** Views of `bytes` in consecutive pieces of `chunkSize` (no copy). */
export function splitIntoChunks(
  bytes: Uint8Array,
  chunkSize: number,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < bytes.length; start += chunkSize) {
    chunks.push(
      bytes.subarray(start, Math.min(start + chunkSize, bytes.length)),
    );
  }
  return chunks;
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) {
    if (a[index] !== b[index]) return false;
  }
  return true;
}

/**
 * Text of exactly `byteLength` UTF-8 bytes. `"ascii"` is English-like
 * prose; `"mixed"` cycles through 1-, 2-, 3- and 4-byte characters (Latin,
 * accented Latin, CJK, emoji), padded with ASCII to the exact length.
 */
export function buildText(byteLength: number, kind: "ascii" | "mixed"): string {
  const pieces = kind === "ascii"
    ? ["The quick brown fox jumps over the lazy dog. "]
    : ["a", "é", "ж", "中", "文", "😀", " ", "ß", "€"];
  const encoder = new TextEncoder();
  let text = "";
  let size = 0;
  let index = 0;
  for (;;) {
    const piece = pieces[index % pieces.length];
    const pieceSize = encoder.encode(piece).length;
    if (size + pieceSize > byteLength) break;
    text += piece;
    size += pieceSize;
    index++;
  }
  return text + "x".repeat(byteLength - size);
}

/** Keeps results observable so the JIT cannot drop the work. */
export const sink: { value: unknown } = { value: undefined };
