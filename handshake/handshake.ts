/**
 * The RFC 6455 opening handshake (section 4), both sides, with no I/O.
 *
 * A server calls {@linkcode validateUpgradeRequest} on the request, picks a
 * subprotocol with {@linkcode selectProtocol}, computes the accept key with
 * {@linkcode computeAcceptKey} and writes {@linkcode buildUpgradeResponseHead}
 * (or answers a refusal with {@linkcode refusalResponse}). A client writes the
 * head from {@linkcode createClientHandshake} and checks the answer with
 * {@linkcode verifyServerResponse}.
 *
 * Only Web-standard APIs are used, so this module runs in Deno, Bun and
 * browsers.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";
import {
  checkFieldValue,
  describeKeyProblem,
  formatHeaderLines,
  formatProtocols,
  isToken,
  listContainsToken,
  parseExtensions,
  parseProtocols,
} from "../http1/header_grammar.ts";
import type { ExtensionOffer } from "../http1/header_grammar.ts";

export { HandshakeError } from "../errors.ts";
export {
  type ExtensionOffer,
  formatExtensions,
  parseExtensions,
  parseProtocols,
} from "../http1/header_grammar.ts";

/** The GUID appended to the key before hashing (RFC 6455 section 1.3). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The only protocol version this library speaks (RFC 6455 section 4.1). */
export const WEBSOCKET_VERSION = "13";

/** The number of random bytes in a `Sec-WebSocket-Key` (RFC 6455 section 4.1). */
export const KEY_BYTE_LENGTH = 16;

/** `value` in double quotes with JSON escapes, for error messages. */
function quoted(value: unknown): string {
  return JSON.stringify(value);
}

/** Why header `name` (a comma list) does not hold `token`, or `undefined`. */
function missingToken(
  headers: Headers,
  name: string,
  token: string,
): string | undefined {
  const value = headers.get(name);
  if (value === null) return `${name} header is missing (expected "${token}")`;
  if (listContainsToken(value, token)) return undefined;
  return `${name} header must contain "${token}", got ${quoted(value)}`;
}

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

/** How a server picks a subprotocol: a list in the server's order of
 * preference, or a callback given the client's offers in the client's order. */
export type ProtocolSelector =
  | readonly string[]
  | ((offered: readonly string[]) => string | null | undefined);

/**
 * Pick the subprotocol to answer with, or `undefined` for none. With a list,
 * the first entry of the server's list that the client offered wins. A
 * callback returning `null`/`undefined` means none.
 *
 * @throws {TypeError} when a callback returns a value the client did not offer.
 */
export function selectProtocol(
  offered: readonly string[],
  selector: ProtocolSelector,
): string | undefined {
  if (typeof selector === "function") {
    const chosen = selector(offered);
    if (chosen === null || chosen === undefined) return undefined;
    if (!offered.includes(chosen)) {
      throw new TypeError(
        `protocol selector chose ${
          quoted(chosen)
        }, which the client did not offer (offered: ${quoted(offered)})`,
      );
    }
    return chosen;
  }
  for (const preferred of selector) {
    if (offered.includes(preferred)) return preferred;
  }
  return undefined;
}

/** What the server needs from a request. `httpVersion` is like `"1.1"`;
 * when absent (as for a `Request`) HTTP/1.1 is assumed. */
export interface UpgradeRequestInfo {
  /** The request method, for example `GET`. */
  method: string;
  /** The HTTP version from the request line, like `"1.1"` or `"1.0"`. */
  httpVersion?: string;
  /** The request headers. */
  headers: Headers;
}

/** The parts of a valid upgrade request the server needs to answer it. */
export interface ValidatedUpgrade {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** Offered subprotocols in the client's order (empty when none). */
  protocols: string[];
  /**
   * The client's `Sec-WebSocket-Extensions` value as received (several
   * header lines joined with ", "), or `null` when absent. Deliberately not
   * parsed here: an extension offer with a syntax problem (RFC 7692 section
   * 5 names a repeated parameter) is declined by the extension's own
   * negotiation, such as `negotiateDeflate`, never a reason to refuse the
   * whole handshake. `parseExtensions` reads a well-formed value.
   */
  extensionsHeader: string | null;
}

/** Whether `version` is HTTP/1.x with x >= 1. Parsed by hand: digits "." digits. */
function isHttp1xAtLeast11(version: string): boolean {
  if (version.length < 3 || version[0] !== "1" || version[1] !== ".") {
    return false;
  }
  let minor = 0;
  for (let i = 2; i < version.length; i++) {
    const code = version.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
    minor = Math.min(minor * 10 + (code - 0x30), 1000);
  }
  return minor >= 1;
}

/**
 * Check a client's opening handshake (RFC 6455 section 4.2.1) and return
 * what the server needs to answer it.
 *
 * @throws {HandshakeError} whose message names the problem:
 * 405 (with `Allow: GET`) for another method; 505 for HTTP before 1.1 (or
 * not 1.x); 400 for a missing `Host`, `Upgrade` without the `websocket`
 * token, `Connection` without the `upgrade` token, a missing, repeated or
 * malformed `Sec-WebSocket-Key`, or bad `Sec-WebSocket-Protocol` syntax;
 * 426 (with `Sec-WebSocket-Version: 13`) when `Sec-WebSocket-Version` is
 * missing or not 13. `Sec-WebSocket-Extensions` is passed on unchecked (see
 * {@linkcode ValidatedUpgrade.extensionsHeader}).
 *
 * @example
 * ```ts
 * const upgrade = validateUpgradeRequest({
 *   method: "GET",
 *   httpVersion: "1.1",
 *   headers: new Headers({
 *     Host: "example.com",
 *     Upgrade: "websocket",
 *     Connection: "Upgrade",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "Sec-WebSocket-Version": "13",
 *   }),
 * });
 * const accept = await computeAcceptKey(upgrade.key);
 * ```
 */
export function validateUpgradeRequest(
  request: Request | UpgradeRequestInfo,
): ValidatedUpgrade {
  const httpVersion = "httpVersion" in request
    ? request.httpVersion ?? "1.1"
    : "1.1";
  const headers = request.headers;

  if (request.method !== "GET") {
    throw new HandshakeError(
      405,
      `WebSocket upgrade requires method GET, got ${quoted(request.method)}`,
      [["Allow", "GET"]],
    );
  }
  if (!isHttp1xAtLeast11(httpVersion)) {
    throw new HandshakeError(
      505,
      `WebSocket upgrade requires HTTP/1.1, got HTTP/${httpVersion}`,
    );
  }
  const host = headers.get("host");
  if (host === null || host === "") {
    throw new HandshakeError(400, "Host header is missing");
  }
  const upgradeProblem = missingToken(headers, "Upgrade", "websocket") ??
    missingToken(headers, "Connection", "Upgrade");
  if (upgradeProblem !== undefined) {
    throw new HandshakeError(400, upgradeProblem);
  }
  const key = headers.get("sec-websocket-key");
  if (key === null) {
    throw new HandshakeError(400, "Sec-WebSocket-Key header is missing");
  }
  const keyProblem = describeKeyProblem(key);
  if (keyProblem !== undefined) throw new HandshakeError(400, keyProblem);

  const version = headers.get("sec-websocket-version");
  if (version !== WEBSOCKET_VERSION) {
    throw new HandshakeError(
      426,
      version === null
        ? "Sec-WebSocket-Version header is missing (must be 13)"
        : `Sec-WebSocket-Version must be 13, got ${quoted(version)}`,
      [["Sec-WebSocket-Version", WEBSOCKET_VERSION]],
    );
  }

  const protocols = headers.get("sec-websocket-protocol");
  return {
    key,
    protocols: protocols === null ? [] : parseProtocols(protocols),
    extensionsHeader: headers.get("sec-websocket-extensions"),
  };
}

/** Header names the handshake itself writes; extra headers may not repeat them. */
const HANDSHAKE_HEADER_NAMES: ReadonlySet<string> = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/** Check a subprotocol name we are about to send. */
function checkProtocolName(protocol: string): string {
  if (!isToken(protocol)) {
    throw new TypeError(`subprotocol ${quoted(protocol)} is not a token`);
  }
  return protocol;
}

/** Check an extensions header value we are about to send. */
function checkExtensionsValue(value: string): string {
  try {
    parseExtensions(value);
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    throw new TypeError(`invalid extensions value: ${error.message}`);
  }
  return value;
}

/**
 * The `101 Switching Protocols` response head, ending in `"\r\n\r\n"`:
 * status line, `Upgrade: websocket`, `Connection: Upgrade`,
 * `Sec-WebSocket-Accept`, then `Sec-WebSocket-Protocol` and
 * `Sec-WebSocket-Extensions` when given, then `headers` in order.
 *
 * @throws {TypeError} when the protocol is not a token, a header name is not
 * a token, a value contains CR/LF or another control character, or an extra
 * header would repeat one of the handshake headers.
 */
export function buildUpgradeResponseHead(
  acceptKey: string,
  options: { protocol?: string; extensions?: string; headers?: HeadersInit } =
    {},
): string {
  let head = "HTTP/1.1 101 Switching Protocols\r\n" +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${
      checkFieldValue("Sec-WebSocket-Accept", acceptKey)
    }\r\n`;
  if (options.protocol !== undefined) {
    head += `Sec-WebSocket-Protocol: ${
      checkProtocolName(options.protocol)
    }\r\n`;
  }
  if (options.extensions !== undefined) {
    const value = checkExtensionsValue(options.extensions);
    head += `Sec-WebSocket-Extensions: ${value}\r\n`;
  }
  return head + formatHeaderLines(options.headers, HANDSHAKE_HEADER_NAMES) +
    "\r\n";
}

/** A plain-text HTTP response refusing a handshake: the error's status, its
 * message as the body, its headers, and `Connection: close`. */
export function refusalResponse(error: HandshakeError): Response {
  const headers = new Headers();
  for (const [name, value] of error.headers) headers.append(name, value);
  headers.set("Content-Type", "text/plain; charset=utf-8");
  headers.set("Connection", "close");
  return new Response(error.message, { status: error.status, headers });
}

/** Options for {@linkcode createClientHandshake}. */
export interface ClientRequestOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /** A ready `Sec-WebSocket-Extensions` value to offer. */
  extensions?: string;
  /** Extra request headers; may not repeat the handshake headers. */
  headers?: HeadersInit;
}

/** A client's opening request: the key it sent and the request head bytes. */
export interface ClientHandshake {
  /** The `Sec-WebSocket-Key` sent; needed to verify the answer. */
  key: string;
  /** The request head, ending in `"\r\n\r\n"`. */
  head: string;
}

/** Parse and check a WebSocket URL the way the WHATWG WebSocket constructor
 * does: http(s) map to ws(s), other schemes and fragments are refused. */
function parseWebSocketUrl(input: string | URL): URL {
  const url = new URL(input);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(
      `WebSocket URL scheme must be ws: or wss:, got ${url.protocol}`,
    );
  }
  if (url.hash !== "" || url.href.endsWith("#")) {
    throw new TypeError(`WebSocket URL may not have a fragment: ${url.href}`);
  }
  return url;
}

/**
 * Build the opening request head for a `ws://` or `wss://` URL (RFC 6455
 * section 4.1). `http:`/`https:` URLs are mapped to `ws:`/`wss:`. The
 * request-target is the path and query; `Host` carries the port only when it
 * is not the default (80 for ws, 443 for wss) and brackets IPv6 addresses.
 * Credentials in the URL are not sent.
 *
 * @throws {TypeError} for an invalid URL, another scheme, a fragment, a
 * subprotocol that is not a token or is repeated, or a bad extra header.
 */
export function createClientHandshake(
  url: string | URL,
  options: ClientRequestOptions = {},
): ClientHandshake {
  const target = parseWebSocketUrl(url);
  const key = generateKey();
  const requestTarget = (target.pathname === "" ? "/" : target.pathname) +
    target.search;
  let head = `GET ${requestTarget} HTTP/1.1\r\n` +
    `Host: ${target.host}\r\n` +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${key}\r\n` +
    `Sec-WebSocket-Version: ${WEBSOCKET_VERSION}\r\n`;
  if (options.protocols !== undefined && options.protocols.length > 0) {
    head += `Sec-WebSocket-Protocol: ${formatProtocols(options.protocols)}\r\n`;
  }
  if (options.extensions !== undefined) {
    const value = checkExtensionsValue(options.extensions);
    head += `Sec-WebSocket-Extensions: ${value}\r\n`;
  }
  head += formatHeaderLines(options.headers, HANDSHAKE_HEADER_NAMES) + "\r\n";
  return { key, head };
}

/** The parts of a server's answer the client checks. */
export interface ServerResponseInfo {
  /** The response status code. */
  status: number;
  /** The response headers. */
  headers: Headers;
}

/** What the server agreed to. */
export interface VerifiedResponse {
  /** The chosen subprotocol, or `""` when none. */
  protocol: string;
  /** The extensions the server accepted, in the order it listed them. */
  extensions: ExtensionOffer[];
}

/**
 * Check the server's answer to a client handshake (RFC 6455 section 4.1,
 * the client's validation steps).
 *
 * @throws {HandshakeError} with `status` set to the response's status when
 * the status is not 101, `Upgrade` lacks `websocket`, `Connection` lacks
 * `upgrade`, `Sec-WebSocket-Accept` is missing or wrong,
 * `Sec-WebSocket-Protocol` names something not offered (or anything when
 * none was offered, or several values), or `Sec-WebSocket-Extensions` is
 * malformed or names an extension not offered.
 */
export async function verifyServerResponse(
  response: ServerResponseInfo,
  expected: {
    key: string;
    protocols?: readonly string[];
    offeredExtensions?: readonly ExtensionOffer[];
  },
): Promise<VerifiedResponse> {
  const { status, headers } = response;
  const refuse = (message: string): never => {
    throw new HandshakeError(status, message);
  };
  if (status !== 101) refuse(`expected status 101, got ${status}`);
  const upgradeProblem = missingToken(headers, "Upgrade", "websocket") ??
    missingToken(headers, "Connection", "Upgrade");
  if (upgradeProblem !== undefined) refuse(`server ${upgradeProblem}`);
  const accept = headers.get("sec-websocket-accept");
  if (accept === null) refuse("server sent no Sec-WebSocket-Accept header");
  const expectedAccept = await computeAcceptKey(expected.key);
  if (accept !== expectedAccept) {
    refuse(
      `Sec-WebSocket-Accept is wrong: expected ${quoted(expectedAccept)}, got ${
        quoted(accept)
      }`,
    );
  }

  const offeredProtocols = expected.protocols ?? [];
  const protocol = headers.get("sec-websocket-protocol") ?? "";
  if (headers.has("sec-websocket-protocol")) {
    const chose = `server chose subprotocol ${quoted(protocol)}`;
    if (offeredProtocols.length === 0) refuse(`${chose} but none was offered`);
    if (protocol.includes(",")) refuse(`${chose}: several subprotocols`);
    if (!offeredProtocols.includes(protocol)) {
      refuse(`${chose}, which was not offered`);
    }
  }

  const extensionHeader = headers.get("sec-websocket-extensions");
  let extensions: ExtensionOffer[] = [];
  if (extensionHeader !== null) {
    try {
      extensions = parseExtensions(extensionHeader);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      refuse(`server sent invalid ${error.message}`);
    }
    const offeredNames = new Set<string>();
    for (const offer of expected.offeredExtensions ?? []) {
      offeredNames.add(offer.name);
    }
    for (const extension of extensions) {
      if (offeredNames.has(extension.name)) continue;
      refuse(`server accepted unoffered extension ${quoted(extension.name)}`);
    }
  }
  return { protocol, extensions };
}
