/**
 * Header rules both sides of the opening handshake share: token lists that
 * must hold a token, the header names the handshake writes itself, and the
 * check of an extensions value about to be sent.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";
import { listContainsToken, parseExtensions } from "../http1/header_grammar.ts";

/** `value` in double quotes with JSON escapes, for error messages. */
export function quoted(value: unknown): string {
  return JSON.stringify(value);
}

/** Why header `name` (a comma list) does not hold `token`, or `undefined`. */
export function missingToken(
  headers: Headers,
  name: string,
  token: string,
): string | undefined {
  const value = headers.get(name);
  if (value === null) return `${name} header is missing (expected "${token}")`;
  if (listContainsToken(value, token)) return undefined;
  return `${name} header must contain "${token}", got ${quoted(value)}`;
}

/** Header names the handshake itself writes; extra headers may not repeat them. */
export const HANDSHAKE_HEADER_NAMES: ReadonlySet<string> = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/** Check an extensions header value we are about to send. */
export function checkExtensionsValue(value: string): string {
  try {
    parseExtensions(value);
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    throw new TypeError(`invalid extensions value: ${error.message}`);
  }
  return value;
}
