/**
 * Close frames (RFC 6455 section 5.5.1 and 7.4): which close codes may be
 * sent and received, and how a code and reason are encoded in a payload of
 * at most 125 bytes.
 *
 * @module
 */

import { utf8ByteLength } from "./utf8.ts";

const textEncoder = new TextEncoder();

/** Longest close reason that fits a control frame: 125 - 2 code bytes. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Whether a close code may appear in a close frame (section 7.4): 1000-1003,
 * 1007-1014 and 3000-4999. 1004 and 1005, 1006, 1015 (reserved for reports,
 * never sent) and all other codes are invalid.
 *
 * @param code the close code
 * @returns true when the code may be sent and received
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/**
 * Encodes a close frame payload: the code in network order, then the UTF-8
 * reason.
 *
 * @param code a close code that {@linkcode isValidCloseCode} accepts
 * @param reason at most {@linkcode MAX_CLOSE_REASON_BYTES} bytes of UTF-8
 * @returns the payload
 * @throws {RangeError} for an invalid code or a reason that is too long
 */
export function encodeClosePayload(code: number, reason = ""): Uint8Array {
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new RangeError(`close code ${code} may not be sent`);
  }
  const reasonBytes = textEncoder.encode(reason);
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(
      `a close reason is at most ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8, got ${reasonBytes.length}`,
    );
  }
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/**
 * `text` cut to fit a close frame: at most 123 bytes of UTF-8, never
 * splitting a surrogate pair.
 *
 * @param text an error message or other reason
 * @returns the reason to send
 */
export function fitCloseReason(text: string): string {
  let reason = text;
  while (utf8ByteLength(reason) > MAX_CLOSE_REASON_BYTES) {
    let end = reason.length - 1;
    const last = reason.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--;
    reason = reason.slice(0, end);
  }
  return reason;
}
