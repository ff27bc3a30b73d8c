/**
 * The payload transformation of `permessage-deflate` (RFC 7692 section 7.2):
 * compress one message, inflate one message, with the web platform's
 * `CompressionStream` / `DecompressionStream` (`"deflate-raw"`), so it runs
 * unchanged in Deno, Bun and browsers.
 *
 * Every message uses a fresh stream: no LZ77 window is kept from one message
 * to the next, which is why negotiation (see `deflate_negotiation.ts`)
 * always agrees `server_no_context_takeover` and `client_no_context_takeover`.
 *
 * @module
 */

import { InvalidPayloadError, MessageTooBigError } from "./errors.ts";

/** The four bytes a sender strips from the end of a compressed message and
 * a receiver appends again (RFC 7692 sections 7.2.1 and 7.2.2): the length
 * fields of an empty stored (uncompressed) DEFLATE block. */
export const DEFLATE_TAIL: readonly number[] = [0x00, 0x00, 0xff, 0xff];

/**
 * The most output one byte of DEFLATE data can produce: 1032 bytes (a
 * 258-byte match coded in two bits, RFC 1951). Used to bound how much a
 * zip bomb can make the inflater produce before it is stopped.
 */
export const MAX_DEFLATE_RATIO = 1032;

/**
 * Fewest compressed bytes handed to the inflater in one step: 1024, which
 * can inflate to at most about 1 MiB ({@linkcode MAX_DEFLATE_RATIO} times
 * as much). Steps are larger for larger limits, but a step never inflates
 * to more than an eighth of the limit beyond this minimum.
 */
export const MIN_INFLATE_STEP = 1024;

/** Output of one step is kept under `maxSize / INFLATE_STEP_FRACTION`. */
const INFLATE_STEP_FRACTION = 8;

const EMPTY_STORED_BLOCK_HEADER = 0x00;
const FINAL_STORED_BLOCK_HEADER = 0x01;
/** An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, then
 * the 7-bit end-of-block code, padded with zeros. */
const EMPTY_FINAL_BLOCK: readonly number[] = [0x03, 0x00];

/** What was read from a stream's readable side. */
interface Collected {
  chunks: Uint8Array[];
  length: number;
  /** The output passed the limit; reading stopped and the stream was cancelled. */
  tooBig: boolean;
}

/**
 * Read a stream to its end, or until its output passes `maxSize` (then the
 * stream is cancelled), or until it errors (the write side sees the error;
 * here it just ends the reading). Never rejects, so no rejection can go
 * unhandled whichever side fails first.
 */
async function collect(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  maxSize: number,
): Promise<Collected> {
  const collected: Collected = { chunks: [], length: 0, tooBig: false };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return collected;
      collected.length += value.length;
      if (collected.length > maxSize) {
        collected.tooBig = true;
        await reader.cancel("message too large");
        return collected;
      }
      collected.chunks.push(value);
    }
  } catch {
    return collected;
  }
}

/** The chunks joined into one array with `spare` zero bytes after them. */
function join(chunks: readonly Uint8Array[], spare = 0): Uint8Array {
  let length = spare;
  for (const chunk of chunks) length += chunk.length;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

function endsWithTail(bytes: Uint8Array): boolean {
  if (bytes.length < DEFLATE_TAIL.length) return false;
  const start = bytes.length - DEFLATE_TAIL.length;
  for (let i = 0; i < DEFLATE_TAIL.length; i++) {
    if (bytes[start + i] !== DEFLATE_TAIL[i]) return false;
  }
  return true;
}

/** The streams take `BufferSource`, which excludes views of a
 * `SharedArrayBuffer`; such a view makes the write fail with a TypeError. */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Compress one message for a frame with RSV1 set (RFC 7692 section 7.2.1).
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
  const collecting = collect(stream.readable.getReader(), Infinity);
  let failure: unknown = undefined;
  try {
    await writer.write(bufferSource(data));
    await writer.close();
  } catch (error) {
    failure = error;
  }
  const { chunks } = await collecting;
  if (failure !== undefined) {
    throw new TypeError(`cannot compress the message: ${errorText(failure)}`);
  }
  const compressed = join(chunks, 1); // the last byte stays 0x00
  if (endsWithTail(compressed.subarray(0, compressed.length - 1))) {
    return compressed.subarray(0, compressed.length - 1 - DEFLATE_TAIL.length);
  }
  return compressed;
}

/**
 * Inflate one compressed message (RFC 7692 section 7.2.2), reading at most
 * about `maxSize` bytes of output.
 *
 * The payload and the appended `00 00 ff ff` are written to a fresh
 * `DecompressionStream` in separate writes, then an empty final block
 * (`03 00`) so the stream ends cleanly: a sync-flushed payload (what zlib
 * based peers send) has no final block, and the platform would report an
 * unexpected end. A payload that ends with a final block of its own (section
 * 7.2.3.4: ours, and other compressors that cannot flush) makes the platform
 * reject whatever follows as trailing junk; the write that fails tells where
 * the compressed data ended: before the payload's last byte (that byte was
 * the `00` of section 7.2.1), at the end of the payload, or after the
 * appended tail. The data before that point was already read out, since a
 * transform stream runs the next write only once its output is drained. A
 * payload made of several complete DEFLATE streams in a row is refused.
 *
 * The compressed data is fed in steps (see {@linkcode MIN_INFLATE_STEP}) and
 * reading stops as soon as the output passes `maxSize`, so a zip bomb makes
 * the platform produce at most `maxSize` plus one step's output, about
 * `max(1 MiB, maxSize / 8)`, before the stream is cancelled.
 *
 * @param data the payload of a message that arrived with RSV1 set
 * @param maxSize the largest message accepted, in bytes
 * @returns the message
 * @throws {MessageTooBigError} (close code 1009) when the message inflates to
 * more than `maxSize` bytes
 * @throws {InvalidPayloadError} (close code 1007) when the payload is not
 * valid DEFLATE data
 * @throws {RangeError} when `maxSize` is not a non-negative safe integer
 */
export async function inflateMessage(
  data: Uint8Array,
  maxSize: number,
): Promise<Uint8Array> {
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new RangeError("maxSize must be a non-negative safe integer");
  }
  // An empty payload cannot even hold a block header; zlib-based receivers
  // read it as an empty message, and so do we.
  if (data.length === 0) return new Uint8Array(0);
  const step = Math.max(
    MIN_INFLATE_STEP,
    Math.floor(maxSize / INFLATE_STEP_FRACTION / MAX_DEFLATE_RATIO),
  );
  const writes: Uint8Array[] = [];
  const body = data.subarray(0, data.length - 1);
  for (let offset = 0; offset < body.length; offset += step) {
    writes.push(body.subarray(offset, offset + step));
  }
  // Writes from here on start where a complete DEFLATE stream may have ended.
  const lastByteWrite = writes.length;
  writes.push(data.subarray(data.length - 1));
  const tailWrite = writes.length;
  writes.push(new Uint8Array(DEFLATE_TAIL));
  const finalBlockWrite = writes.length;
  writes.push(new Uint8Array(EMPTY_FINAL_BLOCK));

  const stream = new DecompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const collecting = collect(stream.readable.getReader(), maxSize);
  let failedWrite = -1;
  let failure: unknown = undefined;
  for (let i = 0; i < writes.length && failedWrite === -1; i++) {
    try {
      await writer.write(bufferSource(writes[i]));
    } catch (error) {
      failedWrite = i;
      failure = error;
    }
  }
  if (failedWrite === -1) {
    try {
      await writer.close();
    } catch (error) {
      failedWrite = writes.length;
      failure = error;
    }
  }
  const collected = await collecting;
  if (collected.tooBig) {
    throw new MessageTooBigError(
      "MessageTooLarge",
      `a compressed message inflates to more than ${maxSize} bytes`,
    );
  }
  if (failedWrite === -1) return join(collected.chunks);
  const endedBeforeLastByte = failedWrite === lastByteWrite &&
    (data[data.length - 1] === EMPTY_STORED_BLOCK_HEADER ||
      data[data.length - 1] === FINAL_STORED_BLOCK_HEADER);
  if (
    endedBeforeLastByte || failedWrite === tailWrite ||
    failedWrite === finalBlockWrite
  ) {
    return join(collected.chunks);
  }
  throw new InvalidPayloadError(
    `a compressed message is not valid DEFLATE data (${errorText(failure)})`,
    "InvalidCompressedData",
  );
}
