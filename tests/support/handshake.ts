/**
 * Fixtures for the handshake tests (tests/handshake_*_test.ts): the RFC 6455
 * example key, a valid upgrade request to vary, base64 by hand, a head
 * parser written apart from the code under test, and assertions for
 * HandshakeError refusals.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type ExtensionOffer,
  HandshakeError,
  type UpgradeRequestInfo,
} from "../../handshake.ts";

/** The key of RFC 6455 section 1.3. */
export const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** Its accept value, from the RFC's text. */
export const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** Decodes base64 with atob, byte by byte. */
export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Encodes bytes as base64 with btoa. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The headers of the RFC example upgrade request. */
export const VALID_REQUEST_HEADERS: Record<string, string> = {
  Host: "server.example.com",
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": RFC_KEY,
  "Sec-WebSocket-Version": "13",
};

/** A valid upgrade request with some headers replaced (`null` removes one). */
export function upgradeRequest(
  changes: Record<string, string | null> = {},
  method = "GET",
  httpVersion = "1.1",
): UpgradeRequestInfo {
  const headers = new Headers(VALID_REQUEST_HEADERS);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return { method, httpVersion, headers };
}

/** Assert `action` throws a HandshakeError with `status` and a message
 * matching `message`. Returns the error for further checks. */
export function assertRefused(
  action: () => unknown,
  status: number,
  message: RegExp,
): HandshakeError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError`);
  assert.equal(caught.status, status, caught.message);
  assert.match(caught.message, message);
  return caught;
}

/** Split a request or response head into its first line and headers, by
 * hand, checking the CRLF framing. Header order is kept in `names`. */
export function parseHead(
  head: string,
): { startLine: string; headers: Headers; names: string[] } {
  assert.ok(head.endsWith("\r\n\r\n"), "head must end with CRLF CRLF");
  const lines = head.slice(0, -4).split("\r\n");
  const startLine = lines[0];
  const headers = new Headers();
  const names: string[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    assert.ok(colon > 0, `header line without colon: ${line}`);
    const name = line.slice(0, colon);
    names.push(name);
    headers.append(name, line.slice(colon + 1).trim());
  }
  return { startLine, headers, names };
}

/** Extension elements as plain arrays, for readable deep comparisons. */
export function summarizeOffers(
  offers: ExtensionOffer[],
): [string, [string, string | true][]][] {
  return offers.map((offer) => [offer.name, [...offer.params]]);
}
