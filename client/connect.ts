/**
 * A WebSocket client over any transport: {@linkcode connectWith} dials with
 * the {@linkcode Dialer} it is given (Deno's in `deno/dial.ts`), performs
 * the opening handshake (RFC 6455 section 4.1) and resolves with an open
 * `WebSocketConnection`, the same socket the server side uses. No I/O of
 * its own.
 *
 * @module
 */

import {
  acceptDeflateResponse,
  createDeflateOffer,
  PERMESSAGE_DEFLATE,
} from "../deflate/negotiation.ts";
import {
  checkDeflateSetup,
  type PerMessageDeflateSetup,
} from "../deflate/extension.ts";
import { HandshakeError } from "../errors.ts";
import {
  createClientHandshake,
  verifyServerResponse,
} from "../handshake/client.ts";
import {
  type ExtensionOffer,
  formatExtensions,
  parseExtensions,
} from "../http1/header_grammar.ts";
import { encodeLatin1 } from "../http1/head.ts";
import {
  type ResponseHead,
  responseHeaders,
  ResponseHeadParser,
} from "../http1/response.ts";
import {
  type ByteConn,
  isPoolSafe,
  markPoolSafe,
  writeAll,
} from "../socket/transport.ts";
import {
  attachConnection,
  createPendingSocket,
  type WebSocketConnection,
} from "../socket/websocket.ts";
import type {
  NegotiatedConnection,
  WebSocketOptions,
} from "../socket/options.ts";
import { DEFAULTS } from "../defaults.ts";

/** How many bytes each read of the handshake response asks for. Bytes read
 * past the head are handed to the socket, never lost. */
const RESPONSE_READ_SIZE = 16 * 1024;

/** Options for `connect`: the socket's limits and timers
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
   * Aborts the handshake: `connect` rejects with the signal's
   * `reason` and the TCP connection is closed. It has no effect once
   * `connect` resolved; close the socket with `close()` then.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds the whole handshake may take: name resolution, TCP connect,
   * TLS, sending the request and receiving the response head. Then
   * `connect` rejects with a `DOMException` named
   * "TimeoutError" (as `AbortSignal.timeout` does) and the connection is
   * closed. 0 turns it off. Default `DEFAULTS.client.handshakeTimeout`.
   */
  handshakeTimeout?: number;
  /** Extra root certificates (PEM) trusted for `wss://`, in addition to the
   * default roots, as `Deno.connectTls` takes them. Ignored for `ws://`;
   * the dialer applies them. */
  caCerts?: string[];
  /**
   * Offer permessage-deflate (RFC 7692), with what `perMessageDeflate()`
   * from the `./deflate` entry returns. The offer asks for what its options
   * say (context takeover unless declined, the preset's windows); every
   * valid answer is accepted and honoured, and `socket.extensions` tells
   * what the server agreed. Messages are compressed as they are sent, each
   * ending with a flush (never a final block), so a server that keeps one
   * inflater across messages reads them all. Default off: the compressor is
   * the npm `pako` package, which only the `./deflate` entry loads.
   */
  perMessageDeflate?: false | PerMessageDeflateSetup;
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

/** Where and how to dial, as {@linkcode connectWith} asks a
 * {@linkcode Dialer}. */
export interface DialTarget {
  /** Whether to speak TLS (`wss://`). */
  readonly secure: boolean;
  /** A host name or IP address (IPv6 without brackets). */
  readonly hostname: string;
  /** The TCP port. */
  readonly port: number;
  /** Extra root certificates (PEM) for TLS, from the options. */
  readonly caCerts: readonly string[] | undefined;
  /** Aborts when the handshake is stopped (the caller's signal, or the
   * handshake timeout). */
  readonly signal: AbortSignal;
  /**
   * Hands over a connection as soon as it exists, so that it is closed
   * if the handshake is stopped or fails (at once, if it already was).
   *
   * @param conn the connection just made
   */
  track(conn: ByteConn): void;
}

/**
 * Opens the byte stream a client socket runs over: TCP, then TLS when
 * `target.secure`, with the TLS handshake complete (so a certificate
 * problem is reported as such). Rejects when `target.signal` aborts.
 */
export type Dialer = (target: DialTarget) => Promise<ByteConn>;

/**
 * The client handshake over what `dial` opens: `connect` for a runtime is
 * this with its dialer. See the runtime's `connect` for the behaviour.
 *
 * @param dial opens the connection
 * @param url the server's URL
 * @param options as for `connect`
 * @returns the open socket
 */
export async function connectWith(
  dial: Dialer,
  url: string | URL,
  options: ConnectOptions = {},
): Promise<WebSocketConnection> {
  const {
    protocols,
    headers,
    signal,
    handshakeTimeout = DEFAULTS.client.handshakeTimeout,
    caCerts,
    extensions,
    perMessageDeflate,
    ...socketOptions
  } = options;
  const deflate = checkDeflateSetup(perMessageDeflate);
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
  if (deflate !== undefined) {
    offeredExtensions.unshift(createDeflateOffer(deflate.options));
  }
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
    const conn = await dial({
      secure: endpoint.secure,
      hostname: endpoint.hostname,
      port: endpoint.port,
      caCerts,
      signal: guard.signal,
      track: (conn) => guard.track(conn),
    });
    await writeAll(conn, encodeLatin1(handshake.head));
    const { head, rest } = await readResponseHead(conn);
    const negotiated = await checkResponse(head, {
      key: handshake.key,
      protocols: offeredProtocols,
      offeredExtensions,
      deflate,
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
  readonly #conns: ByteConn[] = [];
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
  track(conn: ByteConn): void {
    this.#conns.push(conn);
    if (this.signal.aborted) closeQuietly(conn);
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

async function readResponseHead(
  conn: ByteConn,
): Promise<{ head: ResponseHead; rest: Uint8Array }> {
  const parser = new ResponseHeadParser();
  const buffer = new Uint8Array(RESPONSE_READ_SIZE);
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) {
      throw new HandshakeError(
        0,
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
    deflate: PerMessageDeflateSetup | undefined;
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
  const setup = expected.deflate;
  const agreedDeflate = acceptDeflateResponse(
    verified.extensions,
    setup?.options,
  );
  return {
    protocol: verified.protocol,
    extensions: negotiateExtensions(
      verified.extensions,
      headers.get("sec-websocket-extensions"),
    ),
    perMessageDeflate: agreedDeflate === undefined ? undefined : {
      params: agreedDeflate,
      compressors: setup!.compressors,
      threshold: setup!.options.threshold,
    },
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
  readonly #conn: ByteConn;
  #leftover: Uint8Array;
  #handover: Promise<void> | null;
  #release: () => void = () => {};
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** Half-closes, so a failed connection can linger for the peer's bytes;
   * present when the connection has it. */
  readonly closeWrite?: () => Promise<void>;

  constructor(conn: ByteConn, leftover: Uint8Array) {
    this.#conn = conn;
    // Writes pass straight through.
    if (isPoolSafe(conn)) markPoolSafe(this);
    if (conn.closeWrite !== undefined) {
      this.closeWrite = () => conn.closeWrite!();
    }
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

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#release();
    this.#conn.close();
  }
}

function closeQuietly(conn: ByteConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
