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
 * Builds the messages of one run. A message is written into one of
 * {@linkcode OFFSET_STEPS} prepared buffers (one per pattern offset), so
 * sending allocates nothing: `WebSocket.send` copies its data at call time
 * (the WHATWG API says binary data is captured when `send` is called), and
 * if a runtime did not, the echoes would not match and the run would report
 * mismatches.
 */
export class MessageFactory {
  readonly #size: number;
  readonly #templates: Uint8Array[] = [];
  readonly #views: DataView[] = [];

  /**
   * @param size total bytes of every message, {@linkcode HEADER_BYTES} to
   * {@linkcode MAX_MESSAGE_BYTES}
   */
  constructor(size: number) {
    if (size < HEADER_BYTES || size > MAX_MESSAGE_BYTES) {
      throw new RangeError(`message size ${size} out of range`);
    }
    this.#size = size;
    for (let step = 0; step < OFFSET_STEPS; step++) {
      const template = new Uint8Array(size);
      const start = step * 4;
      template.set(
        PATTERN.subarray(start, start + size - HEADER_BYTES),
        HEADER_BYTES,
      );
      this.#templates.push(template);
      this.#views.push(new DataView(template.buffer));
    }
  }

  /**
   * Message `sequence` of connection `connection`. The buffer is reused by
   * later calls: send it before building the next one.
   *
   * @param connection the connection's index in the run
   * @param sequence the message's number on that connection
   * @returns the message
   */
  make(connection: number, sequence: number): Uint8Array {
    const step = sequence % OFFSET_STEPS;
    const view = this.#views[step];
    view.setUint32(0, sequence >>> 0, true);
    view.setUint32(4, connection >>> 0, true);
    return this.#templates[step];
  }

  /** The message size. */
  get size(): number {
    return this.#size;
  }
}

/** Bodies up to this size are compared in a loop, longer ones natively. */
const LOOP_COMPARE_LIMIT = 256;

/** Why an echo was refused, or null when it is the expected message. */
export type EchoMismatch =
  | null
  | "length"
  | "sequence"
  | "connection"
  | "bytes";

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
  const length = size - HEADER_BYTES;
  if (length <= LOOP_COMPARE_LIMIT) {
    for (let index = 0; index < length; index++) {
      if (data[HEADER_BYTES + index] !== PATTERN[start + index]) {
        return "bytes";
      }
    }
    return null;
  }
  const body = Buffer.from(
    data.buffer,
    data.byteOffset + HEADER_BYTES,
    length,
  );
  // Buffer.equals compares natively (memcmp), so checking 64 KiB echoes
  // does not make the load client the bottleneck.
  if (!body.equals(PATTERN.subarray(start, start + length))) {
    return "bytes";
  }
  return null;
}
