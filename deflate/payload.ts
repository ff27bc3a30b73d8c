/**
 * The payload transformation of `permessage-deflate` (RFC 7692 section 7.2):
 * compress one message with the web platform's `CompressionStream`
 * (`"deflate-raw"`), inflate one message with the DEFLATE decoder of
 * `inflate.ts`, so it runs unchanged in Deno, Bun and browsers.
 *
 * Inflating does not use `DecompressionStream`: a message is read as the
 * zlib-based peers (`ws`, Node) read it, up to the end of a final block,
 * ignoring what follows, or else up to the end of the data.
 *
 * `deflateMessage` compresses every message on its own and ends it with a
 * final block: it suits only a peer that agreed no context takeover for our
 * side. The socket compresses through the extension (`extension.ts`) with a
 * compressor that flushes instead (`compressor.ts`). Inflating keeps the
 * peer's window across messages when given an `InflateWindow`.
 *
 * @module
 */

import { concatBytes } from "../frame/bytes.ts";
import { inflateRaw, type InflateWindow } from "./inflate.ts";

/** The four bytes a sender strips from the end of a compressed message and
 * a receiver appends again (RFC 7692 sections 7.2.1 and 7.2.2): the length
 * fields of an empty stored (uncompressed) DEFLATE block. */
export const DEFLATE_TAIL: readonly number[] = [0x00, 0x00, 0xff, 0xff];

/**
 * The most output one byte of DEFLATE data can produce: 1032 bytes (a
 * 258-byte match coded in two bits, RFC 1951). How far a zip bomb can go
 * is set by the `maxSize` of {@linkcode inflateMessage}, not by this ratio.
 */
export const MAX_DEFLATE_RATIO = 1032;

const EMPTY_STORED_BLOCK_HEADER = 0x00;
/** The input buffer (payload and tail) is kept for the next message up to
 * this size. Safe to share: inflation is synchronous and never hands it out. */
const KEPT_INPUT_SIZE = 2 * 1024 * 1024;
let keptInput = new Uint8Array(4096);

/** Reads a stream to its end, never rejecting (a failure shows on the
 * write side). */
async function collect(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return chunks;
      chunks.push(value);
    }
  } catch {
    return chunks;
  }
}

function endsWithTail(bytes: Uint8Array): boolean {
  if (bytes.length < DEFLATE_TAIL.length) return false;
  const start = bytes.length - DEFLATE_TAIL.length;
  for (let i = 0; i < DEFLATE_TAIL.length; i++) {
    if (bytes[start + i] !== DEFLATE_TAIL[i]) return false;
  }
  return true;
}

/**
 * Compress one message for a frame with RSV1 set (RFC 7692 section 7.2.1).
 * Asynchronous: the platform's `CompressionStream` is.
 *
 * The platform compressor cannot flush, so its output always ends with a
 * final (BFINAL) block, which section 7.2.3.4 allows. Section 7.2.1 is then
 * followed literally: when the output ends with `00 00 ff ff` those four
 * bytes are removed (the receiver appends them back, so nothing is lost);
 * otherwise an empty stored block is appended and its last four bytes
 * removed, which leaves one extra `00` byte. That byte matters to receivers
 * that, like Chromium's, keep inflating after a final block: with it, the
 * appended `00 00 ff ff` completes an empty stored block instead of starting
 * a broken one. An empty message is the single byte `00` (section 7.2.3.6).
 *
 * @param data the message (UTF-8 bytes for a text message); not modified
 * @returns the frame payload
 */
export async function deflateMessage(data: Uint8Array): Promise<Uint8Array> {
  if (data.length === 0) return new Uint8Array([EMPTY_STORED_BLOCK_HEADER]);
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const collecting = collect(stream.readable.getReader());
  let failure: unknown = undefined;
  try {
    // A view of a SharedArrayBuffer is not a BufferSource: the write fails.
    await writer.write(data as Uint8Array<ArrayBuffer>);
    await writer.close();
  } catch (error) {
    failure = error;
  }
  const chunks = await collecting;
  if (failure !== undefined) {
    const reason = failure instanceof Error ? failure.message : failure;
    throw new TypeError(`cannot compress the message: ${reason}`);
  }
  // One zero byte after the output: kept when no tail is found.
  const compressed = concatBytes([...chunks, new Uint8Array(1)]);
  if (endsWithTail(compressed.subarray(0, compressed.length - 1))) {
    return compressed.subarray(0, compressed.length - 1 - DEFLATE_TAIL.length);
  }
  return compressed;
}

/**
 * Inflate one compressed message (RFC 7692 section 7.2.2), producing at
 * most `maxSize` bytes of output.
 *
 * `00 00 ff ff` is appended to the payload and the result read as DEFLATE
 * data exactly as zlib's raw inflate reads it when handed all of it with
 * `Z_SYNC_FLUSH`, which is how `ws` and Node inflate a message: blocks are
 * decoded until a final (BFINAL) block ends (section 7.2.3.4), and what
 * follows it is ignored; otherwise until the data ends, which for a
 * sync-flushing sender is just after the appended tail's empty stored
 * block, and which may also be inside a block: a sender that did not strip
 * the tail leaves a stored block cut in its length fields, and an empty
 * payload is the same cut. What was decoded by then is the message. What
 * zlib refuses is refused: an invalid block type, code or code set, stored
 * block lengths that do not match (such as a NLEN that falls in the tail),
 * a back reference to before the message, or before the `window` given.
 *
 * Output is checked against `maxSize` before it is written, so a zip bomb
 * fails as soon as it passes the limit, with at most `maxSize` bytes held.
 *
 * @param data the payload of a message that arrived with RSV1 set; not
 * modified, and not read after this returns (it may be reused at once)
 * @param maxSize the largest message accepted, in bytes
 * @param window the peer's earlier messages, under context takeover; the
 * message is added to it
 * @returns the message, in an array of its own size
 * @throws {MessageTooBigError} (close code 1009) when the message inflates to
 * more than `maxSize` bytes
 * @throws {InvalidPayloadError} (close code 1007) when zlib would refuse
 * the payload, as above
 * @throws {RangeError} when `maxSize` is not a non-negative safe integer
 */
export function inflateMessage(
  data: Uint8Array,
  maxSize: number,
  window?: InflateWindow,
): Uint8Array {
  return inflateRaw(withTail(data), maxSize, window);
}

/** The payload with the tail appended, in a buffer kept for the next
 * message when small enough. */
function withTail(payload: Uint8Array): Uint8Array {
  const length = payload.length + DEFLATE_TAIL.length;
  let input = keptInput;
  if (input.length < length) {
    input = new Uint8Array(length);
    if (length <= KEPT_INPUT_SIZE) keptInput = input;
  }
  input.set(payload);
  input.set(DEFLATE_TAIL, payload.length);
  return input.subarray(0, length);
}
