/**
 * The messages the echo load benchmark sends, and how an echo is checked.
 *
 * A message is binary, `size` bytes (at least {@linkcode HEADER_BYTES}):
 *
 * - bytes 0-3: the sequence number on its connection (u32, little endian);
 * - bytes 4-7: the connection's index in the whole run (u32, little endian);
 * - the rest: a slice of a fixed pseudo-random pattern that starts at an
 *   offset chosen by the sequence number, so consecutive messages differ
 *   and a swapped, truncated or corrupted echo does not compare equal.
 *
 * Runs in Deno and Bun (Web APIs and `node:buffer` only).
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** Bytes of sequence number and connection index at the start. */
export const HEADER_BYTES = 8;

/** How many distinct pattern offsets the sequence number selects from. */
const OFFSET_STEPS = 64;

/** The largest payload a message may have. */
export const MAX_MESSAGE_BYTES: number = 1024 * 1024;

/** Deterministic bytes (xorshift32), long enough for every offset. */
function makePattern(length: number): Buffer {
  const pattern = Buffer.alloc(length);
  let state = 0x9e3779b9;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    pattern[index] = state & 0xff;
  }
  return pattern;
}

const PATTERN: Buffer = makePattern(MAX_MESSAGE_BYTES + OFFSET_STEPS * 4);

function patternOffset(sequence: number): number {
  return (sequence % OFFSET_STEPS) * 4;
}

/**
 * Builds message `sequence` of connection `connection`.
 *
 * @param connection the connection's index in the run
 * @param sequence the message's number on that connection
 * @param size total bytes, {@linkcode HEADER_BYTES} to {@linkcode MAX_MESSAGE_BYTES}
 * @returns a fresh buffer (never reused, so runtimes that send lazily are safe)
 */
export function makeMessage(
  connection: number,
  sequence: number,
  size: number,
): Uint8Array {
  const message = new Uint8Array(size);
  const view = new DataView(message.buffer);
  view.setUint32(0, sequence >>> 0, true);
  view.setUint32(4, connection >>> 0, true);
  const start = patternOffset(sequence);
  message.set(
    PATTERN.subarray(start, start + size - HEADER_BYTES),
    HEADER_BYTES,
  );
  return message;
}

/** Why an echo was refused, or null when it is the expected message. */
export type EchoMismatch = null | "length" | "sequence" | "connection" | "bytes";

/**
 * Checks an echo byte for byte against the message it should be.
 *
 * @param data the echoed message
 * @param connection the connection it arrived on
 * @param sequence the sequence number expected next on that connection
 * @param size the size every message of the run has
 * @returns null when it matches, else what differs
 */
export function checkEcho(
  data: Uint8Array,
  connection: number,
  sequence: number,
  size: number,
): EchoMismatch {
  if (data.length !== size) return "length";
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(0, true) !== (sequence >>> 0)) return "sequence";
  if (view.getUint32(4, true) !== (connection >>> 0)) return "connection";
  const start = patternOffset(sequence);
  const body = Buffer.from(
    data.buffer,
    data.byteOffset + HEADER_BYTES,
    size - HEADER_BYTES,
  );
  // Buffer.equals compares natively (memcmp), so checking 64 KiB echoes
  // does not make the load client the bottleneck.
  if (!body.equals(PATTERN.subarray(start, start + size - HEADER_BYTES))) {
    return "bytes";
  }
  return null;
}
