/**
 * UTF-8 validation for text messages (RFC 3629, as RFC 6455 section 8.1
 * requires): a one-shot strict decoder, an incremental validator that
 * fails on the first byte that can no longer start or continue a valid
 * sequence, so a fragmented message fails fast, not only at its end, and a
 * decoder for one payload arriving in pieces that fails as fast, with the
 * platform's decoder doing the work.
 *
 * @module
 */

import { InvalidPayloadError } from "../errors.ts";

const strictDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});
/** Faster than the strict decoder; used once the bytes are known valid. */
const lenientDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
const REPLACEMENT_CHARACTER = "\ufffd";

/**
 * Decodes UTF-8 bytes to a string, refusing anything invalid: overlong forms,
 * surrogates, code points above U+10FFFF and truncated sequences. A leading
 * byte order mark is kept as U+FEFF, never stripped.
 *
 * @param bytes the encoded text
 * @returns the decoded string
 * @throws {InvalidPayloadError} when `bytes` is not valid UTF-8 (close code 1007)
 */
export function decodeUtf8(bytes: Uint8Array): string {
  // The lenient decoder turns every invalid sequence into U+FFFD, so text
  // without one was valid. Only text containing U+FFFD (an error, or a real
  // U+FFFD sent by the peer) needs the strict decoder to tell which.
  const text = lenientDecoder.decode(bytes);
  if (!text.includes(REPLACEMENT_CHARACTER)) return text;
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new InvalidPayloadError("text is not valid UTF-8");
  }
}

/**
 * Tells whether `bytes` is a complete, valid UTF-8 sequence.
 *
 * @param bytes the bytes to check
 * @returns true when the bytes are valid UTF-8
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const validator = new Utf8Validator();
  return validator.push(bytes) && validator.finish();
}

/**
 * An incremental UTF-8 validator. Push the bytes of a message in pieces; each
 * `push` returns false as soon as the input can no longer be valid, and
 * `finish` tells whether the message ended on a character boundary.
 *
 * @example
 * ```ts
 * const validator = new Utf8Validator();
 * validator.push(new Uint8Array([0xe2, 0x82])); // true: "€" is not complete yet
 * validator.push(new Uint8Array([0xac]));       // true
 * validator.finish();                           // true
 * ```
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the current character. */
  #pending = 0;
  /** Smallest allowed value of the next continuation byte. */
  #lower = 0x80;
  /** Largest allowed value of the next continuation byte. */
  #upper = 0xbf;
  #failed = false;

  /**
   * Validates the next piece of the message.
   *
   * @param bytes the next bytes of the message
   * @returns false once the message can no longer be valid UTF-8
   */
  push(bytes: Uint8Array): boolean {
    if (this.#failed) return false;
    let pending = this.#pending;
    let lower = this.#lower;
    let upper = this.#upper;
    const length = bytes.length;
    for (let index = 0; index < length; index++) {
      const byte = bytes[index];
      if (pending === 0) {
        if (byte < 0x80) continue;
        lower = 0x80;
        upper = 0xbf;
        if (byte >= 0xc2 && byte <= 0xdf) {
          pending = 1;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          pending = 2;
          if (byte === 0xe0) lower = 0xa0; // overlong three-byte forms
          if (byte === 0xed) upper = 0x9f; // UTF-16 surrogates
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          pending = 3;
          if (byte === 0xf0) lower = 0x90; // overlong four-byte forms
          if (byte === 0xf4) upper = 0x8f; // above U+10FFFF
        } else {
          // 0x80-0xc1 cannot start a character; 0xf5-0xff never appear.
          this.#failed = true;
          return false;
        }
      } else {
        if (byte < lower || byte > upper) {
          this.#failed = true;
          return false;
        }
        pending--;
        lower = 0x80;
        upper = 0xbf;
      }
    }
    this.#pending = pending;
    this.#lower = lower;
    this.#upper = upper;
    return true;
  }

  /**
   * Ends the message.
   *
   * @returns true when everything pushed was valid and no character was left
   * incomplete
   */
  finish(): boolean {
    return !this.#failed && this.#pending === 0;
  }

  /** Forgets all state, ready for the next message. */
  reset(): void {
    this.#pending = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
    this.#failed = false;
  }
}

/** Checks the incomplete last character of a text so far; reset first. */
const tailValidator = new Utf8Validator();

/**
 * Text decoded while it arrives is kept once this many new bytes are
 * complete characters (16 KiB); smaller pieces are only checked, so that
 * a trickle cannot build a string out of many tiny ones.
 */
const KEEP_DECODED_BYTES = 16 * 1024;

/**
 * Decodes one text payload that arrives in pieces, failing as soon as the
 * bytes so far cannot start valid UTF-8 (at the `90` of `f4 90`, above
 * U+10FFFF) instead of when the payload is complete. Complete characters
 * go through the platform's decoder, as in {@linkcode decodeUtf8}, and the
 * text decoded on the way is kept, so the payload is not decoded twice;
 * an incomplete last character is checked byte by byte.
 *
 * @example
 * ```ts
 * const text = new Utf8PrefixDecoder();
 * const bytes = new Uint8Array([0x61, 0xe2, 0x82, 0xac]); // "a€"
 * text.check(bytes.subarray(0, 2)); // "a" and the start of "€": fine
 * text.finish(bytes);               // "a€"
 * ```
 */
export class Utf8PrefixDecoder {
  /** Where the complete characters checked so far end. */
  #checked = 0;
  /** The text of the first `#keptBytes` bytes, decoded on the way. */
  #kept = "";
  #keptBytes = 0;

  /**
   * Checks the payload received so far.
   *
   * @param bytes everything received so far (each call with at least the
   * bytes of the call before)
   * @throws {InvalidPayloadError} when `bytes` cannot start valid UTF-8
   */
  check(bytes: Uint8Array): void {
    const end = completeCharactersEnd(bytes, this.#checked);
    if (end > this.#checked) {
      if (end - this.#keptBytes >= KEEP_DECODED_BYTES) {
        this.#kept += decodeUtf8(bytes.subarray(this.#keptBytes, end));
        this.#keptBytes = end;
      } else {
        decodeUtf8(bytes.subarray(this.#checked, end));
      }
      this.#checked = end;
    }
    if (end < bytes.length) {
      tailValidator.reset();
      if (!tailValidator.push(bytes.subarray(end))) {
        throw new InvalidPayloadError("text is not valid UTF-8");
      }
    }
  }

  /**
   * Decodes the complete payload.
   *
   * @param bytes the whole payload (the bytes given to `check` and the rest)
   * @returns the text
   * @throws {InvalidPayloadError} when it is not valid UTF-8
   */
  finish(bytes: Uint8Array): string {
    return this.#kept + decodeUtf8(bytes.subarray(this.#keptBytes));
  }
}

/**
 * Where the complete characters of `bytes` (from the character boundary
 * `from` on) end: the start of an incomplete last character, or the end.
 * Malformed bytes count as complete, for the decoder to refuse.
 */
function completeCharactersEnd(bytes: Uint8Array, from: number): number {
  const end = bytes.length;
  // A character is at most 4 bytes: its lead is among the last 3.
  const lowest = Math.max(from, end - 3);
  for (let index = end - 1; index >= lowest; index--) {
    const byte = bytes[index];
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte
    let length = 1;
    if (byte >= 0xc2 && byte <= 0xdf) length = 2;
    else if (byte >= 0xe0 && byte <= 0xef) length = 3;
    else if (byte >= 0xf0 && byte <= 0xf4) length = 4;
    return index + length > end ? index : end;
  }
  return end;
}

/**
 * The length of `text` in UTF-8 bytes, counted without encoding it. A lone
 * surrogate counts 3 bytes, as it is sent as U+FFFD.
 *
 * @param text the string
 * @returns its UTF-8 byte length
 */
export function utf8ByteLength(text: string): number {
  let length = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length += 4;
        index++;
      } else {
        length += 3;
      }
    } else {
      length += 3;
    }
  }
  return length;
}
