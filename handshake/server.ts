/**
 * The server's side of the opening handshake (RFC 6455 section 4.2), with
 * no I/O: {@linkcode validateUpgradeRequest} checks the request,
 * {@linkcode selectProtocol} picks a subprotocol,
 * {@linkcode buildUpgradeResponseHead} writes the 101, and
 * {@linkcode refusalResponse} answers a refusal.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";
import {
  checkFieldValue,
  describeKeyProblem,
  formatHeaderLines,
  isToken,
  parseProtocols,
} from "../http1/header_grammar.ts";
import { WEBSOCKET_VERSION } from "./accept_key.ts";
import {
  checkExtensionsValue,
  HANDSHAKE_HEADER_NAMES,
  missingToken,
  quoted,
} from "./headers.ts";

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

/** Check a subprotocol name we are about to send. */
function checkProtocolName(protocol: string): string {
  if (!isToken(protocol)) {
    throw new TypeError(`subprotocol ${quoted(protocol)} is not a token`);
  }
  return protocol;
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
