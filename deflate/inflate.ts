/**
 * A DEFLATE decoder (RFC 1951) for data that is all there at once, in plain
 * TypeScript with no platform API, so it runs unchanged in Deno, Bun and
 * browsers.
 *
 * It reads data exactly as zlib's raw inflate reads it when handed all of
 * it with `Z_SYNC_FLUSH`, which is how `ws` and Node inflate a
 * permessage-deflate message: blocks are decoded until a final (BFINAL)
 * block ends, and whatever follows that block is never read; data that runs
 * out first, even inside a block, is not an error (zlib waits for more
 * input there), and the output is what was decoded up to that point; and
 * everything zlib refuses is refused, as soon as the bits that show it
 * have been read, which is when zlib looks at them. That includes zlib's
 * leniencies: a literal/length or distance code that is incomplete because
 * it has a single one-bit code (or, for distances, none), and a code length
 * code with no codes at all, which zlib reads as one bit per code length 0.
 *
 * Output is checked against the caller's limit before it is written, so a
 * zip bomb fails as soon as it passes the limit, with at most that many
 * bytes held.
 *
 * Under context takeover (RFC 7692 section 7.2.3.2) a message may refer
 * back into earlier ones: an {@linkcode InflateWindow} keeps the last bytes
 * of the messages inflated so far, at most the window the peer agreed to.
 *
 * @module
 */

import { InvalidPayloadError, MessageTooBigError } from "../errors.ts";

/** Longest Huffman code (RFC 1951 section 3.2.7). */
const MAX_CODE_BITS = 15;
/** Codes up to this long are decoded with one table lookup. */
const FAST_BITS = 10;
const END_OF_BLOCK = 256;
/** zlib refuses dynamic blocks declaring more symbols than these. */
const MAX_LITERAL_CODES = 286;
const MAX_DISTANCE_CODES = 30;
/** The output buffer is kept for the next call up to this size. */
const KEPT_OUTPUT_SIZE = 2 * 1024 * 1024;

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
/** A symbol no code has: the one-bit codes an incomplete code lacks decode
 * to it, and every caller refuses it as out of range, as zlib refuses them
 * after one bit. */
const MISSING_SYMBOL = 0xfff;

/** Thrown where the input runs out, and caught by {@linkcode inflateRaw}:
 * zlib stops there without an error. */
class EndOfInput {}
const END_OF_INPUT = new EndOfInput();

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
   * code they start with, or 0 when that code is longer. */
  readonly fast = new Uint16Array(1 << FAST_BITS);
  fastMask = 0;
  readonly #offsets = new Uint16Array(MAX_CODE_BITS + 2);

  constructor(symbolCount: number) {
    this.sortedSymbols = new Uint16Array(symbolCount);
  }

  /** Sets the code up from `count` code lengths at `lengths[start]`,
   * refusing what zlib refuses: over-subscribed sets, and incomplete ones
   * but a single one-bit literal/length or distance code, no distance code
   * at all, or no code length code at all. */
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
    const incompleteAllowed = longest === 0 ||
      (longest === 1 && kind !== "code length");
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
    if (left > 0) {
      // Only codes of at most one bit get here, so the whole code is in the
      // fast table. zlib reads an empty code length code as one bit per
      // length 0, and the missing codes of the others as invalid.
      const missing = kind === "code length" ? 1 : (MISSING_SYMBOL << 4) | 1;
      for (let i = 0; i <= this.fastMask; i++) {
        if (this.fast[i] === 0) this.fast[i] = missing;
      }
    }
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
// Inflation runs in one go, so no two inputs ever use these at once.
const codeLengthTable = new HuffmanTable(19);
const literalTable = new HuffmanTable(MAX_LITERAL_CODES);
const distanceTable = new HuffmanTable(MAX_DISTANCE_CODES);
const codeLengths = new Uint8Array(19);
const symbolLengths = new Uint8Array(MAX_LITERAL_CODES + MAX_DISTANCE_CODES);
let keptOutput = new Uint8Array(4096);

/**
 * The last bytes a peer's messages inflated to, which its next message may
 * refer back into (context takeover): a ring of `2^windowBits` bytes,
 * allocated when the first message is added.
 */
export class InflateWindow {
  /** The most bytes kept. */
  readonly size: number;
  #bytes: Uint8Array | null = null;
  /** Where the next byte goes. */
  #end = 0;
  #length = 0;

  /**
   * An empty window of `2^windowBits` bytes (memory taken at the first
   * message added).
   *
   * @param windowBits the peer's agreed window, 8 to 15 (256 B to 32 KiB)
   * @throws {RangeError} for another value
   */
  constructor(windowBits: number) {
    if (!Number.isInteger(windowBits) || windowBits < 8 || windowBits > 15) {
      throw new RangeError(`windowBits must be 8 to 15, got ${windowBits}`);
    }
    this.size = 1 << windowBits;
  }

  /** How many bytes are kept: how far back a message may refer. */
  get length(): number {
    return this.#length;
  }

  /** Bytes of memory held. */
  get heldBytes(): number {
    return this.#bytes?.length ?? 0;
  }

  /**
   * Copies `count` bytes, starting `back` bytes before the end, into
   * `target` at `at`.
   */
  copyTo(target: Uint8Array, at: number, back: number, count: number): void {
    const bytes = this.#bytes!;
    let from = this.#end - back;
    if (from < 0) from += this.size;
    const first = Math.min(count, this.size - from);
    target.set(bytes.subarray(from, from + first), at);
    if (first < count) target.set(bytes.subarray(0, count - first), at + first);
  }

  /**
   * Keeps the end of a message that was inflated.
   *
   * @param message the message's bytes
   */
  append(message: Uint8Array): void {
    if (message.length === 0) return;
    const size = this.size;
    const bytes = this.#bytes ??= new Uint8Array(size);
    if (message.length >= size) {
      bytes.set(message.subarray(message.length - size));
      this.#end = 0;
      this.#length = size;
      return;
    }
    const first = Math.min(message.length, size - this.#end);
    bytes.set(message.subarray(0, first), this.#end);
    bytes.set(message.subarray(first), 0);
    this.#end = (this.#end + message.length) % size;
    this.#length = Math.min(size, this.#length + message.length);
  }

  /** Forgets every byte kept (the memory stays). */
  clear(): void {
    this.#end = 0;
    this.#length = 0;
  }
}

/**
 * Inflate raw DEFLATE data (RFC 1951, no zlib or gzip wrapper) as zlib's
 * raw inflate does when handed all of it with `Z_SYNC_FLUSH`: up to the end
 * of a final block (the rest is not read) or, failing that, of the data
 * (what was decoded until then, even from a block cut short), refusing what
 * zlib refuses. Without a `window` no earlier data is referred to; with
 * one, back references may reach into it, and the output is added to it.
 *
 * @param data the DEFLATE data; not modified, and not read after this
 * returns
 * @param maxSize the most output accepted, in bytes
 * @param window the earlier output a back reference may reach into; the
 * output is appended to it on success
 * @returns the output, in an array of its own size
 * @throws {MessageTooBigError} (close code 1009) when the output would be
 * more than `maxSize` bytes
 * @throws {InvalidPayloadError} (close code 1007, rule
 * `InvalidCompressedData`) when zlib would refuse the data, or a back
 * reference reaches past the window
 * @throws {RangeError} when `maxSize` is not a non-negative safe integer
 */
export function inflateRaw(
  data: Uint8Array,
  maxSize: number,
  window?: InflateWindow,
): Uint8Array {
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new RangeError("maxSize must be a non-negative safe integer");
  }
  const output = new Inflater(data, maxSize, window ?? null).run();
  window?.append(output);
  return output;
}

/** One inflation: the input, the bits read ahead from it, and the output. */
class Inflater {
  readonly #input: Uint8Array;
  #position = 0;
  /** Input bits read ahead, the next one lowest. */
  #bits = 0;
  #bitCount = 0;
  readonly #maxSize: number;
  #output = keptOutput;
  #outputLength = 0;
  /** Where output must stop for now: the buffer's end, or `maxSize`. */
  #room: number;
  /** Earlier messages' output, for back references past this one's start. */
  readonly #window: InflateWindow | null;

  constructor(
    input: Uint8Array,
    maxSize: number,
    window: InflateWindow | null,
  ) {
    this.#input = input;
    this.#maxSize = maxSize;
    this.#window = window;
    this.#room = Math.min(this.#output.length, maxSize);
  }

  run(): Uint8Array {
    try {
      this.#blocks();
    } catch (error) {
      if (error !== END_OF_INPUT) throw error;
    }
    if (this.#output.length <= KEPT_OUTPUT_SIZE) keptOutput = this.#output;
    return this.#output.slice(0, this.#outputLength);
  }

  #blocks(): void {
    for (;;) {
      // The usual end (after the empty stored block a sync flush leaves),
      // told apart without an exception.
      if (this.#bitsLeft() < 3) return;
      const final = this.#read(1);
      const type = this.#read(2);
      if (type === 0) {
        this.#storedBlock();
      } else if (type === 1) {
        this.#huffmanBlock(FIXED_LITERALS, FIXED_DISTANCES);
      } else if (type === 2) {
        this.#readDynamicCodes();
        this.#huffmanBlock(literalTable, distanceTable);
      } else {
        throw invalid("invalid block type");
      }
      if (final === 1) return; // what follows is not read
    }
  }

  #bitsLeft(): number {
    return this.#bitCount + 8 * (this.#input.length - this.#position);
  }

  #refill(): void {
    const input = this.#input;
    while (this.#bitCount <= 24 && this.#position < input.length) {
      this.#bits |= input[this.#position++] << this.#bitCount;
      this.#bitCount += 8;
    }
  }

  /** The next `count` bits (at most 16) as a number, first bit lowest. */
  #read(count: number): number {
    if (this.#bitCount < count) {
      this.#refill();
      if (this.#bitCount < count) throw END_OF_INPUT;
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
      if (entry === TRUNCATED) throw END_OF_INPUT;
      if (entry === NO_CODE) throw invalid(`invalid ${kind} code`);
    }
    const length = entry & 15;
    // Past the input's end the table was looked up with zero bits.
    if (length > this.#bitCount) throw END_OF_INPUT;
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

  /** A stored block: as much of it as the input holds. */
  #storedBlock(): void {
    // Skip to the byte boundary, then give back the whole bytes read ahead.
    this.#position -= this.#bitCount >>> 3;
    this.#bits = 0;
    this.#bitCount = 0;
    const input = this.#input;
    const start = this.#position;
    if (start + 4 > input.length) throw END_OF_INPUT;
    const length = input[start] | (input[start + 1] << 8);
    if (length !== (~(input[start + 2] | (input[start + 3] << 8)) & 0xffff)) {
      throw invalid("invalid stored block lengths");
    }
    const from = start + 4;
    const available = Math.min(length, input.length - from);
    if (this.#outputLength + available > this.#room) this.#reserve(available);
    this.#output.set(
      input.subarray(from, from + available),
      this.#outputLength,
    );
    this.#outputLength += available;
    this.#position = from + available;
    if (available < length) throw END_OF_INPUT;
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
      // zlib reads a repeat's extra bits before it checks the repeat.
      let count: number;
      if (symbol === 16) {
        count = 3 + this.#read(2);
        if (filled === 0) throw invalid("a length repeat with no length");
      } else if (symbol === 17) {
        count = 3 + this.#read(3);
      } else {
        count = 11 + this.#read(7);
      }
      if (filled + count > total) throw invalid("too many code lengths");
      const repeated = symbol === 16 ? lengths[filled - 1] : 0;
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
      const reachesBack = distance > this.#outputLength;
      if (
        reachesBack && distance - this.#outputLength > this.#windowLength()
      ) throw invalid("a distance too far back");
      if (this.#outputLength + length > this.#room) this.#reserve(length);
      if (reachesBack) this.#copyFromWindow(distance, length);
      else this.#copyMatch(distance, length);
    }
  }

  #windowLength(): number {
    return this.#window?.length ?? 0;
  }

  /** A match that starts before this message, in the window. */
  #copyFromWindow(distance: number, length: number): void {
    const back = distance - this.#outputLength;
    const count = Math.min(length, back);
    this.#window!.copyTo(this.#output, this.#outputLength, back, count);
    this.#outputLength += count;
    if (count < length) this.#copyMatch(distance, length - count);
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
