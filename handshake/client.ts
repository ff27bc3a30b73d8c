/**
 * The client's side of the opening handshake (RFC 6455 section 4.1), with
 * no I/O: {@linkcode createClientHandshake} writes the request head and
 * {@linkcode verifyServerResponse} checks the server's answer.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";
import {
  type ExtensionOffer,
  formatHeaderLines,
  formatProtocols,
  parseExtensions,
} from "../http1/header_grammar.ts";
import {
  computeAcceptKey,
  generateKey,
  WEBSOCKET_VERSION,
} from "./accept_key.ts";
import {
  checkExtensionsValue,
  HANDSHAKE_HEADER_NAMES,
  missingToken,
  quoted,
} from "./headers.ts";

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
