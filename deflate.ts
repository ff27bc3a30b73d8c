/**
 * The payload transformation of `permessage-deflate` (RFC 7692 section 7.2):
 * compress one message with the web platform's `CompressionStream`
 * (`"deflate-raw"`), inflate one message with the DEFLATE decoder (RFC 1951)
 * below, so it runs unchanged in Deno, Bun and browsers.
 *
 * Inflating does not use `DecompressionStream`. A receiver must know where
 * the DEFLATE data ended to tell a complete message from a cut or invalid
 * one, and that stream only fails on bytes after the end, with an error
 * that differs from the one for invalid data by its runtime-specific
 * message alone; Deno never frees a stream whose write failed (every
 * refused message, and every message ending with a final block, leaked
 * its inflater); and setting up a stream costs far more than inflating a
 * short message. The decoder below stops exactly where the data says,
 * checks what zlib checks, and never holds more than `maxSize` bytes of
 * output.
 *
 * Every message uses a fresh state: no LZ77 window is kept from one message
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
 * 258-byte match coded in two bits, RFC 1951). How far a zip bomb can go
 * is set by the `maxSize` of {@linkcode inflateMessage}, not by this ratio.
 */
export const MAX_DEFLATE_RATIO = 1032;

/**
 * 1024. No longer used: it was how many compressed bytes were handed to
 * the platform's inflater at a time; {@linkcode inflateMessage} now stops
 * at `maxSize` exactly.
 *
 * @deprecated inflation is bounded by `maxSize` alone; will be removed.
 */
export const MIN_INFLATE_STEP = 1024;

const EMPTY_STORED_BLOCK_HEADER = 0x00;
const FINAL_STORED_BLOCK_HEADER = 0x01;

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

/** The chunks joined into one array with `spare` zero bytes after them. */
function join(chunks: readonly Uint8Array[], spare: number): Uint8Array {
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
  const compressed = join(chunks, 1); // the last byte stays 0x00
  if (endsWithTail(compressed.subarray(0, compressed.length - 1))) {
    return compressed.subarray(0, compressed.length - 1 - DEFLATE_TAIL.length);
  }
  return compressed;
}

/**
 * Inflate one compressed message (RFC 7692 section 7.2.2), producing at
 * most `maxSize` bytes of output.
 *
 * The payload with `00 00 ff ff` appended must be DEFLATE data that either
 * ends exactly after that tail's empty stored block (what a sync-flushing
 * sender such as zlib produces), or ends with a final (BFINAL) block (section
 * 7.2.3.4): at the end of the payload, at the end of the appended tail, or
 * just before a last payload byte `00` or `01` (the byte section 7.2.1 leaves
 * when a final block is followed by an empty stored block). Anything else
 * is refused, and so is everything zlib refuses: data cut in the middle of a
 * block (such as a stored block whose length fields fall in the tail), a
 * second DEFLATE stream, a back reference to before the message (no context
 * is kept). zlib itself would return the bytes decoded before a cut.
 *
 * Output is checked against `maxSize` before it is written, so a zip bomb
 * fails as soon as it passes the limit, with at most `maxSize` bytes held.
 *
 * @param data the payload of a message that arrived with RSV1 set; not
 * modified, and not read after this returns (it may be reused at once)
 * @param maxSize the largest message accepted, in bytes
 * @returns the message, in an array of its own size
 * @throws {MessageTooBigError} (close code 1009) when the message inflates to
 * more than `maxSize` bytes
 * @throws {InvalidPayloadError} (close code 1007) when the payload is not
 * valid DEFLATE data as above
 * @throws {RangeError} when `maxSize` is not a non-negative safe integer
 */
export function inflateMessage(
  data: Uint8Array,
  maxSize: number,
): Promise<Uint8Array> {
  try {
    if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
      throw new RangeError("maxSize must be a non-negative safe integer");
    }
    // An empty payload cannot even hold a block header; zlib-based
    // receivers read it as an empty message, and so do we.
    if (data.length === 0) return Promise.resolve(new Uint8Array(0));
    return Promise.resolve(new Inflater(data, maxSize).run());
  } catch (error) {
    return Promise.reject(error);
  }
}

// --- The DEFLATE decoder (RFC 1951) ---------------------------------------

/** Longest Huffman code (RFC 1951 section 3.2.7). */
const MAX_CODE_BITS = 15;
/** Codes up to this long are decoded with one table lookup. */
const FAST_BITS = 10;
const END_OF_BLOCK = 256;
/** zlib refuses dynamic blocks declaring more symbols than these. */
const MAX_LITERAL_CODES = 286;
const MAX_DISTANCE_CODES = 30;
/** Input and output buffers are kept for the next message up to this size. */
const KEPT_BUFFER_SIZE = 2 * 1024 * 1024;

/** Base length and extra bits of length symbols 257 to 285, then base
 * distance and extra bits of distance symbols 0 to 29. */
// deno-fmt-ignore
const LENGTH_BASE = Uint16Array.of(
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
  35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
);
// deno-fmt-ignore
const LENGTH_EXTRA_BITS = Uint8Array.of(
  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
  3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
);
// deno-fmt-ignore
const DISTANCE_BASE = Uint16Array.of(
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
  257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
  16385, 24577,
);
// deno-fmt-ignore
const DISTANCE_EXTRA_BITS = Uint8Array.of(
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
  7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
);
/** The order in which a dynamic block lists its code length code lengths. */
// deno-fmt-ignore
const CODE_LENGTH_ORDER = Uint8Array.of(
  16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
);

/** Which code a table holds: zlib accepts different sets of lengths. */
type CodeKind = "code length" | "literal/length" | "distance";

/** From {@linkcode HuffmanTable.decodeSlowly}: the input ends in the code. */
const TRUNCATED = -1;
/** From {@linkcode HuffmanTable.decodeSlowly}: the bits start no code. */
const NO_CODE = -2;
const ENDS_IN_BLOCK = "the data ends inside a block";

function invalid(reason: string): InvalidPayloadError {
  return new InvalidPayloadError(
    `a compressed message is not valid DEFLATE data (${reason})`,
    "InvalidCompressedData",
  );
}

/** A canonical Huffman code (RFC 1951 section 3.2.2) set up for decoding. */
class HuffmanTable {
  /** How many codes have each length. */
  readonly lengthCounts = new Uint16Array(MAX_CODE_BITS + 1);
  /** The symbols in code order: by length, then by symbol. */
  readonly sortedSymbols: Uint16Array;
  /** For the next input bits (`& fastMask`), `symbol << 4 | length` of the
   * code they start with, or 0 when that code is longer (or missing). */
  readonly fast = new Uint16Array(1 << FAST_BITS);
  fastMask = 0;
  readonly #offsets = new Uint16Array(MAX_CODE_BITS + 2);

  constructor(symbolCount: number) {
    this.sortedSymbols = new Uint16Array(symbolCount);
  }

  /** Sets the code up from `count` code lengths at `lengths[start]`,
   * refusing what zlib refuses: over-subscribed sets, and incomplete ones
   * but a single one-bit literal/length or distance code (or no distance
   * code at all). */
  build(
    lengths: Uint8Array,
    start: number,
    count: number,
    kind: CodeKind,
  ): void {
    const counts = this.lengthCounts;
    counts.fill(0);
    for (let i = start; i < start + count; i++) counts[lengths[i]]++;
    counts[0] = 0;
    let longest = 0;
    let left = 1;
    for (let length = 1; length <= MAX_CODE_BITS; length++) {
      if (counts[length] !== 0) longest = length;
      left = left * 2 - counts[length];
      if (left < 0) throw invalid(`over-subscribed ${kind} code`);
    }
    const incompleteAllowed = kind !== "code length" &&
      (longest === 1 || (longest === 0 && kind === "distance"));
    if (left > 0 && !incompleteAllowed) {
      throw invalid(`incomplete ${kind} code`);
    }
    const offsets = this.#offsets;
    offsets[1] = 0;
    for (let length = 1; length <= MAX_CODE_BITS; length++) {
      offsets[length + 1] = offsets[length] + counts[length];
    }
    for (let symbol = 0; symbol < count; symbol++) {
      const length = lengths[start + symbol];
      if (length !== 0) this.sortedSymbols[offsets[length]++] = symbol;
    }
    this.#fillFastTable(Math.min(longest, FAST_BITS));
  }

  #fillFastTable(fastBits: number): void {
    const size = 1 << fastBits;
    this.fast.fill(0, 0, size);
    this.fastMask = size - 1;
    let code = 0;
    let index = 0;
    for (let length = 1; length <= fastBits; length++) {
      for (let n = 0; n < this.lengthCounts[length]; n++) {
        // Codes are sent from their first bit and the input is read from
        // the lowest bit: the table is indexed by the code's bits reversed.
        let reversed = 0;
        for (let bit = 0; bit < length; bit++) {
          reversed |= ((code >>> bit) & 1) << (length - 1 - bit);
        }
        const entry = (this.sortedSymbols[index++] << 4) | length;
        for (let i = reversed; i < size; i += 1 << length) this.fast[i] = entry;
        code++;
      }
      code <<= 1;
    }
  }

  /** The code starting at the lowest of `available` bits, read bit by bit:
   * `symbol << 4 | length`, {@linkcode TRUNCATED} or {@linkcode NO_CODE}. */
  decodeSlowly(bits: number, available: number): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let length = 1; length <= MAX_CODE_BITS; length++) {
      if (length > available) return TRUNCATED;
      code |= (bits >>> (length - 1)) & 1;
      const count = this.lengthCounts[length];
      if (code - first < count) {
        return (this.sortedSymbols[index + code - first] << 4) | length;
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    return NO_CODE;
  }
}

function fixedCodes(): HuffmanTable[] {
  const lengths = new Uint8Array(288 + 32).fill(8, 0, 144).fill(9, 144, 256)
    .fill(7, 256, 280).fill(8, 280, 288).fill(5, 288);
  const literals = new HuffmanTable(288);
  literals.build(lengths, 0, 288, "literal/length");
  const distances = new HuffmanTable(32);
  distances.build(lengths, 288, 32, "distance");
  return [literals, distances];
}

/** The fixed codes of RFC 1951 section 3.2.6. */
const [FIXED_LITERALS, FIXED_DISTANCES] = fixedCodes();
// Inflation runs in one go, so no two messages ever use these at once.
const codeLengthTable = new HuffmanTable(19);
const literalTable = new HuffmanTable(MAX_LITERAL_CODES);
const distanceTable = new HuffmanTable(MAX_DISTANCE_CODES);
const codeLengths = new Uint8Array(19);
const symbolLengths = new Uint8Array(MAX_LITERAL_CODES + MAX_DISTANCE_CODES);
let keptInput = new Uint8Array(4096);
let keptOutput = new Uint8Array(4096);

/** One message's inflation: the input (payload, then the tail), the bits
 * read ahead from it, and the output. */
class Inflater {
  readonly #input: Uint8Array;
  readonly #payloadLength: number;
  readonly #inputLength: number;
  #position = 0;
  /** Input bits read ahead, the next one lowest. */
  #bits = 0;
  #bitCount = 0;
  readonly #maxSize: number;
  #output = keptOutput;
  #outputLength = 0;
  /** Where output must stop for now: the buffer's end, or `maxSize`. */
  #room: number;

  constructor(payload: Uint8Array, maxSize: number) {
    this.#payloadLength = payload.length;
    this.#inputLength = payload.length + DEFLATE_TAIL.length;
    if (keptInput.length < this.#inputLength) {
      const grown = new Uint8Array(this.#inputLength);
      if (grown.length <= KEPT_BUFFER_SIZE) keptInput = grown;
      this.#input = grown;
    } else {
      this.#input = keptInput;
    }
    this.#input.set(payload);
    this.#input.set(DEFLATE_TAIL, payload.length);
    this.#maxSize = maxSize;
    this.#room = Math.min(this.#output.length, maxSize);
  }

  run(): Uint8Array {
    for (;;) {
      const final = this.#read(1);
      const type = this.#read(2);
      if (type === 0) {
        if (this.#storedBlock()) break; // the tail's empty stored block
      } else if (type === 1) {
        this.#huffmanBlock(FIXED_LITERALS, FIXED_DISTANCES);
      } else if (type === 2) {
        this.#readDynamicCodes();
        this.#huffmanBlock(literalTable, distanceTable);
      } else {
        throw invalid("invalid block type");
      }
      if (final === 1) {
        this.#checkEndAfterFinalBlock();
        break;
      }
    }
    if (this.#output.length <= KEPT_BUFFER_SIZE) keptOutput = this.#output;
    return this.#output.slice(0, this.#outputLength);
  }

  /** After the final block, what is left of the input must be the tail, a
   * last payload byte `00` or `01` and the tail, or nothing. */
  #checkEndAfterFinalBlock(): void {
    // The block's last byte is used up (its bits past the end are
    // padding); whole bytes read ahead are not.
    const end = this.#position - (this.#bitCount >>> 3);
    const payloadLength = this.#payloadLength;
    if (end === payloadLength || end === this.#inputLength) return;
    const lastByte = this.#input[payloadLength - 1];
    const isBlockHeader = lastByte === EMPTY_STORED_BLOCK_HEADER ||
      lastByte === FINAL_STORED_BLOCK_HEADER;
    if (end === payloadLength - 1 && isBlockHeader) return;
    throw invalid("data after the end of the compressed stream");
  }

  #refill(): void {
    while (this.#bitCount <= 24 && this.#position < this.#inputLength) {
      this.#bits |= this.#input[this.#position++] << this.#bitCount;
      this.#bitCount += 8;
    }
  }

  /** The next `count` bits (at most 16) as a number, first bit lowest. */
  #read(count: number): number {
    if (this.#bitCount < count) {
      this.#refill();
      if (this.#bitCount < count) throw invalid(ENDS_IN_BLOCK);
    }
    const value = this.#bits & ((1 << count) - 1);
    this.#bits >>>= count;
    this.#bitCount -= count;
    return value;
  }

  #decode(table: HuffmanTable, kind: CodeKind): number {
    if (this.#bitCount < MAX_CODE_BITS) this.#refill();
    let entry = table.fast[this.#bits & table.fastMask];
    if (entry === 0) {
      entry = table.decodeSlowly(this.#bits, this.#bitCount);
      if (entry === NO_CODE) throw invalid(`invalid ${kind} code`);
      if (entry === TRUNCATED) throw invalid(ENDS_IN_BLOCK);
    }
    const length = entry & 15;
    // Past the input's end the table was looked up with zero bits.
    if (length > this.#bitCount) throw invalid(ENDS_IN_BLOCK);
    this.#bits >>>= length;
    this.#bitCount -= length;
    return entry >>> 4;
  }

  /** Makes room for `count` more output bytes, or fails past `maxSize`. */
  #reserve(count: number): void {
    const needed = this.#outputLength + count;
    if (needed > this.#maxSize) {
      throw new MessageTooBigError(
        "MessageTooLarge",
        `a compressed message inflates to more than ${this.#maxSize} bytes`,
      );
    }
    if (needed > this.#output.length) {
      const size = Math.max(needed, this.#output.length * 2);
      const grown = new Uint8Array(Math.min(this.#maxSize, size));
      grown.set(this.#output.subarray(0, this.#outputLength));
      this.#output = grown;
    }
    this.#room = Math.min(this.#output.length, this.#maxSize);
  }

  /** A stored block; true when it is the empty one whose length fields are
   * the appended tail, which ends the message. */
  #storedBlock(): boolean {
    // Skip to the byte boundary, then give back the whole bytes read ahead.
    this.#position -= this.#bitCount >>> 3;
    this.#bits = 0;
    this.#bitCount = 0;
    const input = this.#input;
    const start = this.#position;
    if (start + 4 > this.#inputLength) throw invalid(ENDS_IN_BLOCK);
    const length = input[start] | (input[start + 1] << 8);
    if (length !== (~(input[start + 2] | (input[start + 3] << 8)) & 0xffff)) {
      throw invalid("invalid stored block lengths");
    }
    const from = start + 4;
    const available = Math.min(length, this.#inputLength - from);
    if (this.#outputLength + available > this.#room) this.#reserve(available);
    this.#output.set(
      input.subarray(from, from + available),
      this.#outputLength,
    );
    this.#outputLength += available;
    this.#position = from + available;
    if (available < length) throw invalid(ENDS_IN_BLOCK);
    return start === this.#payloadLength;
  }

  #readDynamicCodes(): void {
    const literalCount = this.#read(5) + 257;
    const distanceCount = this.#read(5) + 1;
    const codeLengthCount = this.#read(4) + 4;
    if (
      literalCount > MAX_LITERAL_CODES || distanceCount > MAX_DISTANCE_CODES
    ) throw invalid("too many length or distance symbols");
    codeLengths.fill(0);
    for (let i = 0; i < codeLengthCount; i++) {
      codeLengths[CODE_LENGTH_ORDER[i]] = this.#read(3);
    }
    codeLengthTable.build(codeLengths, 0, 19, "code length");
    const total = literalCount + distanceCount;
    const lengths = symbolLengths;
    let filled = 0;
    while (filled < total) {
      const symbol = this.#decode(codeLengthTable, "code length");
      if (symbol < 16) {
        lengths[filled++] = symbol;
        continue;
      }
      let repeated = 0;
      let count: number;
      if (symbol === 16) {
        if (filled === 0) throw invalid("a length repeat with no length");
        repeated = lengths[filled - 1];
        count = 3 + this.#read(2);
      } else if (symbol === 17) {
        count = 3 + this.#read(3);
      } else {
        count = 11 + this.#read(7);
      }
      if (filled + count > total) throw invalid("too many code lengths");
      lengths.fill(repeated, filled, filled + count);
      filled += count;
    }
    if (lengths[END_OF_BLOCK] === 0) throw invalid("no end-of-block code");
    literalTable.build(lengths, 0, literalCount, "literal/length");
    distanceTable.build(lengths, literalCount, distanceCount, "distance");
  }

  #huffmanBlock(literals: HuffmanTable, distances: HuffmanTable): void {
    for (;;) {
      const symbol = this.#decode(literals, "literal/length");
      if (symbol < END_OF_BLOCK) {
        if (this.#outputLength === this.#room) this.#reserve(1);
        this.#output[this.#outputLength++] = symbol;
        continue;
      }
      if (symbol === END_OF_BLOCK) return;
      const lengthIndex = symbol - 257;
      if (lengthIndex >= LENGTH_BASE.length) {
        throw invalid("invalid literal/length code");
      }
      const length = LENGTH_BASE[lengthIndex] +
        this.#read(LENGTH_EXTRA_BITS[lengthIndex]);
      const distanceIndex = this.#decode(distances, "distance");
      if (distanceIndex >= DISTANCE_BASE.length) {
        throw invalid("invalid distance code");
      }
      const distance = DISTANCE_BASE[distanceIndex] +
        this.#read(DISTANCE_EXTRA_BITS[distanceIndex]);
      if (distance > this.#outputLength) {
        throw invalid("a distance too far back");
      }
      if (this.#outputLength + length > this.#room) this.#reserve(length);
      this.#copyMatch(distance, length);
    }
  }

  #copyMatch(distance: number, length: number): void {
    const output = this.#output;
    let to = this.#outputLength;
    const end = to + length;
    if (length > 16 && distance >= length) {
      output.copyWithin(to, to - distance, end - distance);
    } else if (length > 16 && distance === 1) {
      output.fill(output[to - 1], to, end); // a run of one byte
    } else {
      // Short, or a run of a longer pattern: byte by byte.
      for (; to < end; to++) output[to] = output[to - distance];
    }
    this.#outputLength = end;
  }
}
