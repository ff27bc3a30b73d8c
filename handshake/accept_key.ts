/**
 * The key exchange of the opening handshake (RFC 6455 sections 1.3 and
 * 4.1): the client's random `Sec-WebSocket-Key` and the server's
 * `Sec-WebSocket-Accept` proof, with Web Crypto SHA-1.
 *
 * @module
 */

/** The GUID appended to the key before hashing (RFC 6455 section 1.3). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The only protocol version this library speaks (RFC 6455 section 4.1). */
export const WEBSOCKET_VERSION = "13";

/** The number of random bytes in a `Sec-WebSocket-Key` (RFC 6455 section 4.1). */
export const KEY_BYTE_LENGTH = 16;

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) {
    binary += String.fromCharCode(bytes[i]);
  }
  return btoa(binary);
}

/**
 * The `Sec-WebSocket-Accept` value for a key: base64 of
 * SHA-1(key + {@linkcode WEBSOCKET_GUID}) (RFC 6455 section 4.2.2).
 *
 * @example
 * ```ts
 * const accept = await computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==");
 * // accept === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
 * ```
 */
export async function computeAcceptKey(key: string): Promise<string> {
  const input = new TextEncoder().encode(key + WEBSOCKET_GUID);
  const digest = await crypto.subtle.digest("SHA-1", input);
  return bytesToBase64(new Uint8Array(digest));
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes from
 * `crypto.getRandomValues`, base64-encoded (24 characters). */
export function generateKey(): string {
  const bytes = new Uint8Array(KEY_BYTE_LENGTH);
  crypto.getRandomValues(bytes);
  return bytesToBase64(bytes);
}
