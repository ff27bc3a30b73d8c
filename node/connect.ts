/**
 * `connect()` over `node:net` and `node:tls`: the client of the `./node`
 * entry, for Bun and Node (and Deno). The same client as the Deno one, over
 * another dialer.
 *
 * @module
 */

import { type ConnectOptions, connectWith } from "../client/connect.ts";
import type { WebSocketConnection } from "../socket/websocket.ts";
import { dialNodeNet } from "./dial.ts";

/**
 * Opens a WebSocket connection to a `ws://` or `wss://` URL (`http://` and
 * `https://` are mapped to them, as browsers do).
 *
 * The promise resolves once the server accepted the handshake, with a
 * socket that is already OPEN. Its "open" event was dispatched before the
 * promise resolved, so an `onopen` handler assigned afterwards never runs:
 * the resolved promise is the open notification (as `WebSocketStream`'s
 * `opened`). Nothing is lost by that: the socket starts reading one task
 * after the promise resolved, so "message" handlers and `for await` loops
 * set up right after `await connect(...)` (before awaiting anything else)
 * see every message, including any the server sent together with its 101
 * response. `binaryType` is "blob", as in browsers; set it to
 * "arraybuffer" the same way.
 *
 * Redirects are not followed: a 3xx answer is a `HandshakeError` like any
 * other status but 101, and its message names the `Location`.
 *
 * @example
 * ```ts ignore
 * const socket = await connect("wss://example.com/feed", {
 *   headers: { Authorization: "Bearer abc" },
 *   signal: AbortSignal.timeout(5_000),
 * });
 * for await (const message of socket) console.log(message);
 * ```
 *
 * @param url the server's URL; credentials in it are not sent
 * @param options subprotocols, extra headers, abort signal, handshake
 * timeout, CA certificates and the socket's options
 * @returns the open socket
 * @throws {TypeError} for an invalid URL or scheme, a fragment, a
 * subprotocol that is not a token or is repeated, or an invalid or reserved
 * extra header; {@linkcode RangeError} for an invalid option. Both before
 * any connection is made.
 * @throws {HandshakeError} when the server answered with anything but a valid
 * 101: `status` is the response's status (0 when no valid status line
 * arrived, or the server closed the connection before its answer was
 * complete) and `headers` are the response's header lines as sent (so a
 * redirect's `Location` or a 401's `WWW-Authenticate` can be read); also
 * for a response head over `DEFAULTS.limits.maxResponseHeadBytes` bytes or
 * `DEFAULTS.limits.maxResponseHeaderCount` headers.
 * @throws the connection's error when connecting, TLS, writing or reading
 * failed (`ECONNREFUSED`, a certificate error, ...); the signal's reason when `signal` aborted; a "TimeoutError"
 * `DOMException` after `handshakeTimeout`. On every failure the connection
 * is closed.
 */
export function connect(
  url: string | URL,
  options?: ConnectOptions,
): Promise<WebSocketConnection> {
  return connectWith(dialNodeNet, url, options);
}
