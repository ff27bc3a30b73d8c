/**
 * A WebSocket client for `ws://` and `wss://` URLs over Deno's TCP and TLS
 * (`Deno.connect`, `Deno.startTls`): {@linkcode connect} performs the
 * opening handshake (RFC 6455 section 4.1) and resolves with an open
 * {@linkcode WebSocketConnection}, the same socket the server side uses.
 *
 * ```ts ignore
 * import { connect } from "@rfc6455/websocket";
 *
 * const socket = await connect("ws://127.0.0.1:8080/chat", {
 *   protocols: ["chat"],
 * });
 * socket.onmessage = (event) => console.log(event.data);
 * socket.send("hello");
 * ```
 *
 * This module and `server.ts` are the only ones doing Deno I/O.
 *
 * @module
 */

import {
  acceptDeflateResponse,
  createDeflateOffer,
  PERMESSAGE_DEFLATE,
  type PerMessageDeflateOptions,
  resolveDeflateOptions,
} from "../deflate/negotiation.ts";
import { HandshakeError } from "../errors.ts";
import {
  createClientHandshake,
  type ExtensionOffer,
  formatExtensions,
  parseExtensions,
  verifyServerResponse,
} from "../handshake/handshake.ts";
import { encodeLatin1 } from "../http1/request.ts";
import {
  type ResponseHead,
  responseHeaders,
  ResponseHeadParser,
} from "../http1/response.ts";
import {
  attachConnection,
  type ByteConn,
  createPendingSocket,
  type NegotiatedConnection,
  type WebSocketConnection,
  type WebSocketOptions,
} from "../socket/websocket.ts";

export type {
  WebSocketConnection,
  WebSocketOptions,
} from "../socket/websocket.ts";
export type { PerMessageDeflateOptions } from "../deflate/negotiation.ts";
export {
  MAX_RESPONSE_HEAD_BYTES,
  MAX_RESPONSE_HEADER_COUNT,
} from "../http1/response.ts";

/** Default {@linkcode ConnectOptions.handshakeTimeout}: 10 seconds, the same
 * time the server gives a client for its request head. */
export const DEFAULT_HANDSHAKE_TIMEOUT: number = 10_000;

/** How many bytes each read of the handshake response asks for. Bytes read
 * past the head are handed to the socket, never lost. */
const RESPONSE_READ_SIZE = 16 * 1024;

/** Options for {@linkcode connect}: the socket's limits and timers
 * ({@linkcode WebSocketOptions}) plus what the handshake needs. */
export interface ConnectOptions extends WebSocketOptions {
  /** Subprotocols to offer in `Sec-WebSocket-Protocol`, in order of
   * preference (one name or a list, as for the `WebSocket` constructor).
   * The server's choice is `socket.protocol`; a choice that was not offered
   * fails the handshake. */
  protocols?: string | readonly string[];
  /** Extra request headers (`Authorization`, `Cookie`, `Origin`,
   * `User-Agent`, ...). They may not repeat the handshake's own headers. */
  headers?: HeadersInit;
  /**
   * Aborts the handshake: {@linkcode connect} rejects with the signal's
   * `reason` and the TCP connection is closed. It has no effect once
   * `connect` resolved; close the socket with `close()` then.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds the whole handshake may take: name resolution, TCP connect,
   * TLS, sending the request and receiving the response head. Then
   * {@linkcode connect} rejects with a `DOMException` named
   * "TimeoutError" (as `AbortSignal.timeout` does) and the connection is
   * closed. 0 turns it off. Default {@linkcode DEFAULT_HANDSHAKE_TIMEOUT}.
   */
  handshakeTimeout?: number;
  /** Extra root certificates (PEM) trusted for `wss://`, in addition to the
   * default roots, as `Deno.connectTls` takes them. Ignored for `ws://`. */
  caCerts?: string[];
  /**
   * Offer permessage-deflate (RFC 7692): `true` or options (the size
   * threshold below which messages are sent uncompressed, default
   * 1024 bytes, `DEFAULT_COMPRESSION_THRESHOLD`). Default off, since the
   * platform's compression streams cost a tenth of a millisecond or more per
   * message. The offer asks for no context takeover both ways (the platform
   * streams cannot keep a context); `socket.extensions` tells whether the
   * server agreed.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Other `Sec-WebSocket-Extensions` offers, sent as given after the
   * permessage-deflate offer. The socket runs no other extension, so a
   * server that accepts one of these fails the handshake (a
   * `HandshakeError` with status 101) rather than opening a socket that
   * would misread the extension's frames.
   */
  extensions?: string;
}

/** The extensions a client socket can run, by name. */
const SUPPORTED_EXTENSIONS: ReadonlySet<string> = new Set<string>([
  PERMESSAGE_DEFLATE,
]);

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
 * arrived) and `headers` are the response's header lines as sent (so a
 * redirect's `Location` or a 401's `WWW-Authenticate` can be read); also
 * for a response head over {@linkcode MAX_RESPONSE_HEAD_BYTES} bytes or
 * {@linkcode MAX_RESPONSE_HEADER_COUNT} headers.
 * @throws the connection's error when connecting, TLS, writing or reading
 * failed (`Deno.errors.ConnectionRefused`, `Deno.errors.UnexpectedEof` when
 * the server closed before its answer was complete, a certificate error,
 * ...); the signal's reason when `signal` aborted; a "TimeoutError"
 * `DOMException` after `handshakeTimeout`. On every failure the connection
 * is closed.
 */
export async function connect(
  url: string | URL,
  options: ConnectOptions = {},
): Promise<WebSocketConnection> {
  const {
    protocols,
    headers,
    signal,
    handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT,
    caCerts,
    extensions,
    perMessageDeflate,
    ...socketOptions
  } = options;
  const deflate = resolveDeflateOptions(
    perMessageDeflate === true ? {} : perMessageDeflate || { enabled: false },
  );
  if (!(handshakeTimeout >= 0 && Number.isFinite(handshakeTimeout))) {
    throw new RangeError(
      `handshakeTimeout must be a non-negative finite number, got ${handshakeTimeout}`,
    );
  }
  const offeredProtocols = typeof protocols === "string"
    ? [protocols]
    : [...(protocols ?? [])];
  const offeredExtensions = extensions === undefined
    ? []
    : parseExtensions(extensions);
  if (deflate.enabled) offeredExtensions.unshift(createDeflateOffer());
  const handshake = createClientHandshake(url, {
    protocols: offeredProtocols,
    extensions: offeredExtensions.length === 0
      ? undefined
      : formatExtensions(offeredExtensions),
    headers,
  });
  const endpoint = resolveEndpoint(url);
  const socket = createPendingSocket("client", socketOptions);
  signal?.throwIfAborted();

  const guard = new HandshakeGuard(signal, handshakeTimeout);
  try {
    const conn = await openConnection(endpoint, caCerts, guard);
    await writeAll(conn, encodeLatin1(handshake.head));
    const { head, rest } = await readResponseHead(conn);
    const negotiated = await checkResponse(head, {
      key: handshake.key,
      protocols: offeredProtocols,
      offeredExtensions,
      deflateOffered: deflate.enabled,
      threshold: deflate.threshold,
    });
    guard.signal.throwIfAborted();
    guard.dispose();
    void attachConnection(socket, new HandoverConn(conn, rest), EMPTY, {
      ...negotiated,
      url: endpoint.url,
    });
    return socket;
  } catch (error) {
    guard.dispose();
    guard.closeConnections();
    throw guard.signal.aborted ? guard.signal.reason : error;
  }
}

const EMPTY = new Uint8Array(0);

/** Where to connect, from a URL `createClientHandshake` already accepted. */
interface Endpoint {
  /** Whether to speak TLS. */
  secure: boolean;
  /** A host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** The TCP port. */
  port: number;
  /** What `socket.url` reports. */
  url: string;
}

function resolveEndpoint(input: string | URL): Endpoint {
  const url = new URL(input);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  const secure = url.protocol === "wss:";
  let hostname = url.hostname;
  if (hostname.startsWith("[") && hostname.endsWith("]")) {
    hostname = hostname.slice(1, -1);
  }
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  return { secure, hostname, port, url: url.href };
}

/**
 * Stops a handshake when the caller's signal aborts or the timeout passes:
 * its own signal aborts with the reason, and every connection handed to
 * {@linkcode HandshakeGuard.track} is closed so pending reads and writes
 * end at once.
 */
class HandshakeGuard {
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal | undefined;
  readonly #onOuterAbort = () => this.#stop(this.#outer?.reason);
  readonly #conns: Deno.Conn[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(outer: AbortSignal | undefined, timeout: number) {
    this.#outer = outer;
    outer?.addEventListener("abort", this.#onOuterAbort, { once: true });
    if (timeout > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#stop(
          new DOMException(
            `the WebSocket handshake took longer than ${timeout} ms`,
            "TimeoutError",
          ),
        );
      }, timeout);
    }
  }

  /** Aborts, with the reason the handshake was stopped. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Close `conn` when the handshake is stopped (at once if it was). */
  track<T extends Deno.Conn>(conn: T): T {
    this.#conns.push(conn);
    if (this.signal.aborted) closeQuietly(conn);
    return conn;
  }

  /** The handshake ended: stop watching the signal and the clock. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#outer?.removeEventListener("abort", this.#onOuterAbort);
  }

  /** The handshake failed: close every connection it opened. */
  closeConnections(): void {
    for (const conn of this.#conns) closeQuietly(conn);
  }

  #stop(reason: unknown): void {
    if (this.signal.aborted) return;
    this.#controller.abort(reason);
    this.closeConnections();
  }
}

/** TCP, then TLS for `wss://`; the TLS handshake completes here so that a
 * certificate problem is reported as such. */
async function openConnection(
  endpoint: Endpoint,
  caCerts: string[] | undefined,
  guard: HandshakeGuard,
): Promise<Deno.Conn> {
  const { hostname, port } = endpoint;
  const tcp = guard.track(
    await Deno.connect({ hostname, port, signal: guard.signal }),
  );
  if (!endpoint.secure) return tcp;
  const tls = guard.track(
    await Deno.startTls(
      tcp,
      caCerts === undefined ? { hostname } : {
        hostname,
        caCerts,
      },
    ),
  );
  await tls.handshake();
  return tls;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

async function readResponseHead(
  conn: Deno.Conn,
): Promise<{ head: ResponseHead; rest: Uint8Array }> {
  const parser = new ResponseHeadParser();
  const buffer = new Uint8Array(RESPONSE_READ_SIZE);
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) {
      throw new Deno.errors.UnexpectedEof(
        parser.bytesReceived === 0
          ? "the server closed the connection without answering the WebSocket handshake"
          : "the server closed the connection in the middle of its handshake response",
      );
    }
    const parsed = parser.push(buffer.subarray(0, count));
    if (parsed !== undefined) return parsed;
  }
}

/** The refusal for an answer other than 101, with the response's headers. */
function refusal(head: ResponseHead, headers: Headers): HandshakeError {
  let message = `the server answered the WebSocket handshake with ${
    `${head.status} ${head.reason}`.trim()
  }`;
  if (head.status >= 300 && head.status < 400) {
    const location = headers.get("location");
    message += location === null
      ? " (a redirect without Location)"
      : `, redirecting to ${JSON.stringify(location)}`;
    message += "; redirects are not followed";
  }
  return new HandshakeError(head.status, message, head.headers);
}

/** Check the answer (RFC 6455 section 4.1) and return what was agreed. */
async function checkResponse(
  head: ResponseHead,
  expected: {
    key: string;
    protocols: readonly string[];
    offeredExtensions: readonly ExtensionOffer[];
    deflateOffered: boolean;
    threshold: number;
  },
): Promise<NegotiatedConnection> {
  const headers = responseHeaders(head);
  if (head.status !== 101) throw refusal(head, headers);
  if (head.version !== "HTTP/1.1") {
    throw new HandshakeError(
      101,
      `a 101 answer must be HTTP/1.1, got ${head.version}`,
    );
  }
  const verified = await verifyServerResponse(
    { status: head.status, headers },
    expected,
  );
  const agreedDeflate = acceptDeflateResponse(
    verified.extensions,
    expected.deflateOffered,
  );
  return {
    protocol: verified.protocol,
    extensions: negotiateExtensions(
      verified.extensions,
      headers.get("sec-websocket-extensions"),
    ),
    perMessageDeflate: agreedDeflate === undefined
      ? undefined
      : { threshold: expected.threshold },
  };
}

/**
 * The extension hook: decides which of the extensions the server accepted
 * (already checked to have been offered) the socket runs, and returns what
 * `socket.extensions` reports.
 *
 * @throws {HandshakeError} (status 101) for an extension the socket cannot
 * run (see {@linkcode SUPPORTED_EXTENSIONS}).
 */
function negotiateExtensions(
  accepted: readonly ExtensionOffer[],
  header: string | null,
): string {
  for (const extension of accepted) {
    if (SUPPORTED_EXTENSIONS.has(extension.name)) continue;
    throw new HandshakeError(
      101,
      `the server accepted extension ${
        JSON.stringify(extension.name)
      }, which this client cannot run yet`,
    );
  }
  return header ?? "";
}

/**
 * The connection as the socket sees it: its first read waits one task, so
 * that whoever awaited `connect()` can attach handlers first, then returns
 * the bytes read past the handshake response, then reads the connection.
 */
class HandoverConn implements ByteConn {
  readonly #conn: Deno.Conn;
  #leftover: Uint8Array;
  #handover: Promise<void> | null;
  #release: () => void = () => {};
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(conn: Deno.Conn, leftover: Uint8Array) {
    this.#conn = conn;
    this.#leftover = leftover;
    this.#handover = new Promise((resolve) => {
      this.#release = resolve;
      this.#timer = setTimeout(resolve, 0);
    });
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (this.#handover !== null) {
      await this.#handover;
      this.#handover = null;
    }
    if (this.#closed) return null;
    if (this.#leftover.length > 0) {
      const count = Math.min(buffer.length, this.#leftover.length);
      buffer.set(this.#leftover.subarray(0, count));
      this.#leftover = this.#leftover.subarray(count);
      return count;
    }
    return this.#conn.read(buffer);
  }

  write(data: Uint8Array): Promise<number> {
    return this.#conn.write(data);
  }

  /** Half-closes, so a failed connection can linger for the peer's bytes. */
  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#release();
    this.#conn.close();
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
