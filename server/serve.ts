/**
 * An HTTP/1.1 server with WebSocket upgrades, shaped like `Deno.serve` and
 * `Deno.upgradeWebSocket` so that moving between them means changing an
 * import:
 *
 * ```ts ignore
 * import { serve, upgradeWebSocket } from "@rfc6455/websocket/server";
 *
 * const server = serve({ port: 8080 }, (request) => {
 *   if (request.headers.get("upgrade") !== "websocket") {
 *     return new Response("hello");
 *   }
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * });
 * await server.finished;
 * ```
 *
 * Listening happens in `server_listeners.ts` (`Deno.listen`,
 * `Deno.listenTls`, or `node:net` for {@linkcode serveNodeNet});
 * connections are served by `server_connection.ts`.
 *
 * @module
 */

import { type ConnectionHost, HttpConnection } from "./connection.ts";
import {
  type AcceptedConn,
  type ConnectionSource,
  listenDeno,
  listenNodeNet,
} from "./listeners.ts";
import {
  bindRequestTopics,
  type PublishData,
  TopicRegistry,
} from "../socket/pubsub.ts";

export { HttpError } from "../http1/request.ts";
export {
  type UpgradeOptions,
  type UpgradeResult,
  upgradeWebSocket,
  type WebSocketConnection,
  type WebSocketOptions,
} from "./upgrade.ts";

/** How long a client may take to send a complete request head, in
 * milliseconds. Default 10 seconds; then the server answers 408 and closes.
 * An idle keep-alive connection that sends nothing is closed silently after
 * the same time. */
export const DEFAULT_HEADERS_TIMEOUT: number = 10_000;

/** Most connections a server holds at once, HTTP and WebSocket alike:
 * 10,000. A connection accepted beyond it is answered at once, before any
 * request is read, with `503 Service Unavailable` and
 * {@linkcode OVERLOAD_RETRY_AFTER_SECONDS} in `Retry-After`, then closed. It
 * bounds the file descriptors and memory a flood of connections can take
 * (an idle open WebSocket holds about 17 KiB of RSS: `deno task scale`
 * measures it). */
export const DEFAULT_MAX_CONNECTIONS: number = 10_000;

/** The `Retry-After` (seconds) of the 503 sent past `maxConnections`: 5. */
export const OVERLOAD_RETRY_AFTER_SECONDS: number = 5;

/** Most 503 answers past `maxConnections` in progress at once (each waits
 * up to `LINGER_TIMEOUT` for the client to read it): 128. Beyond that, an
 * extra connection is closed without an answer. */
export const MAX_OVERLOAD_REFUSALS: number = 128;

/** How long {@linkcode Server.shutdown} waits for in-flight responses and
 * WebSocket close handshakes before closing every connection, in
 * milliseconds. Default 10 seconds. */
export const DEFAULT_SHUTDOWN_TIMEOUT: number = 10_000;

/** Options for {@linkcode serve}, named as for `Deno.serve`. */
export interface ServeOptions {
  /** The port to listen on; default 8000. Use 0 for any free port. */
  port?: number;
  /** The address to listen on; default `"0.0.0.0"`. */
  hostname?: string;
  /** Aborting it shuts the server down, like calling `shutdown()`. */
  signal?: AbortSignal;
  /** Called once listening; by default logs the address. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** PEM certificate chain; with `key`, the server listens with TLS. */
  cert?: string;
  /** PEM private key for `cert`. */
  key?: string;
  /** Milliseconds for a complete request head; default
   * {@linkcode DEFAULT_HEADERS_TIMEOUT}. */
  headersTimeout?: number;
  /** Milliseconds graceful shutdown may take before connections are closed
   * forcibly; default {@linkcode DEFAULT_SHUTDOWN_TIMEOUT}. */
  shutdownTimeout?: number;
  /** Most connections held at once (a positive integer, or `Infinity`);
   * default {@linkcode DEFAULT_MAX_CONNECTIONS}. Past it, new connections
   * get `503 Service Unavailable` with `Retry-After` and are closed. */
  maxConnections?: number;
}

/** What a handler learns about the connection, as with `Deno.serve`. */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
}

/** A request handler. A `HandshakeError` it throws (from
 * `upgradeWebSocket`) is answered with the refusal (400, 426, ...); any
 * other error is logged and answered with 500. */
export type ServeHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | Promise<Response>;

/** A running server. */
export interface Server {
  /** The address the server listens on (with the real port when 0 was
   * asked for). */
  readonly addr: Deno.NetAddr;
  /** Settles once the server has shut down and every connection closed. */
  readonly finished: Promise<void>;
  /**
   * Stop accepting, close idle connections, let in-flight responses finish,
   * close every WebSocket with 1001 (going away) and wait for them, bounded
   * by `shutdownTimeout`, after which the remaining connections are closed.
   * Resolves when everything is closed; calling it again returns the same
   * promise.
   */
  shutdown(): Promise<void>;
  /**
   * Publishes to every OPEN socket subscribed to `topic` (see
   * `socket.subscribe`), framing the message once, as Bun's
   * `server.publish`. Each socket's `maxQueuedBytes` still applies.
   *
   * @param topic the topic
   * @param data text or bytes (not a Blob)
   * @returns how many sockets the message was queued to
   */
  publish(topic: string, data: PublishData): number;
  /**
   * How many sockets are subscribed to `topic`.
   *
   * @param topic the topic
   * @returns the count
   */
  subscriberCount(topic: string): number;
}

function formatAuthority(addr: Deno.NetAddr): string {
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `${host}:${addr.port}`;
}

/**
 * Listen and serve HTTP/1.1 (and WebSocket upgrades through
 * {@linkcode upgradeWebSocket}), like `Deno.serve`. With `cert` and `key`
 * the server speaks TLS (https and wss).
 *
 * @example
 * ```ts ignore
 * const server = serve({ port: 0, onListen() {} }, () => new Response("hi"));
 * await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * await server.shutdown();
 * ```
 */
export function serve(handler: ServeHandler): Server;
/** Listen with `options` and serve with `handler`. */
export function serve(options: ServeOptions, handler: ServeHandler): Server;
export function serve(
  optionsOrHandler: ServeOptions | ServeHandler,
  maybeHandler?: ServeHandler,
): Server {
  const options = typeof optionsOrHandler === "function"
    ? {}
    : optionsOrHandler;
  const handler = typeof optionsOrHandler === "function"
    ? optionsOrHandler
    : maybeHandler;
  if (typeof handler !== "function") {
    throw new TypeError("serve: a handler function is required");
  }
  checkOptions(options);
  const source = listenDeno({
    port: options.port ?? 8000,
    hostname: options.hostname ?? "0.0.0.0",
    cert: options.cert,
    key: options.key,
  });
  return new RunningServer(options, handler, source);
}

/**
 * Like {@linkcode serve}, on `node:net` sockets instead of `Deno.Conn`
 * (plain TCP only: no `cert`/`key`). Choose it for many busy connections:
 * Deno's `node:net` serves every connection in turn, where `Deno.Conn`
 * reads leave most of 10,000 busy connections waiting for seconds (see
 * `server_listeners.ts`); at a hundred connections {@linkcode serve} costs
 * less CPU per message. It resolves once listening, since `node:net` learns
 * its port asynchronously.
 *
 * @example
 * ```ts ignore
 * const server = await serveNodeNet({ port: 0 }, (request) => {
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * });
 * ```
 *
 * @param options as for {@linkcode serve}, without `cert` and `key`
 * @param handler the request handler
 * @returns the running server
 */
export async function serveNodeNet(
  options: ServeOptions,
  handler: ServeHandler,
): Promise<Server> {
  if (typeof handler !== "function") {
    throw new TypeError("serveNodeNet: a handler function is required");
  }
  checkOptions(options);
  const source = await listenNodeNet({
    port: options.port ?? 8000,
    hostname: options.hostname ?? "0.0.0.0",
    cert: options.cert,
    key: options.key,
  });
  return new RunningServer(options, handler, source);
}

/** Throws for options no server can start with. */
function checkOptions(options: ServeOptions): void {
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (
    maxConnections !== Infinity &&
    (!Number.isSafeInteger(maxConnections) || maxConnections < 1)
  ) {
    throw new RangeError(
      `serve: maxConnections must be a positive integer or Infinity, got ${maxConnections}`,
    );
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("serve: cert and key must be given together");
  }
}

class RunningServer implements Server {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  readonly #source: ConnectionSource;
  readonly #handler: ServeHandler;
  readonly #connections = new Map<HttpConnection, Promise<void>>();
  /** Connections past maxConnections being answered 503. */
  readonly #refusals = new Map<HttpConnection, Promise<void>>();
  readonly #maxConnections: number;
  readonly #shutdownTimeout: number;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.shutdown();
  readonly #acceptLoop: Promise<void>;
  readonly #topics = new TopicRegistry();
  #shuttingDown = false;
  #shutdown: Promise<void> | undefined;
  #resolveFinished!: () => void;

  constructor(
    options: ServeOptions,
    handler: ServeHandler,
    source: ConnectionSource,
  ) {
    this.#handler = handler;
    this.#shutdownTimeout = options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
    this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const headersTimeout = options.headersTimeout ?? DEFAULT_HEADERS_TIMEOUT;
    this.#source = source;
    const secure = source.secure;
    this.addr = source.addr;
    this.finished = new Promise((resolve) => {
      this.#resolveFinished = resolve;
    });
    const scheme = secure ? "https" : "http";
    const isShuttingDown = () => this.#shuttingDown;
    const host: ConnectionHost = {
      scheme,
      localAuthority: formatAuthority(this.addr),
      headersTimeout,
      get shuttingDown(): boolean {
        return isShuttingDown();
      },
    };
    this.#acceptLoop = source.accept((conn) => this.#onConnection(conn, host));
    if (options.onListen !== undefined) {
      options.onListen(this.addr);
    } else {
      console.log(`Listening on ${scheme}://${formatAuthority(this.addr)}/`);
    }
    this.#signal = options.signal;
    if (this.#signal?.aborted) {
      void this.shutdown();
    } else {
      this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Serves an accepted connection, or refuses it past maxConnections. */
  #onConnection(conn: AcceptedConn, host: ConnectionHost): void {
    if (this.#shuttingDown) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      return;
    }
    if (this.#connections.size >= this.#maxConnections) {
      this.#refuseOverloaded(conn, host);
      return;
    }
    const info: ServeHandlerInfo = { remoteAddr: conn.remoteAddr };
    const handler = this.#handler;
    const topics = this.#topics;
    const connection = new HttpConnection(conn, host, (request) => {
      bindRequestTopics(request, topics);
      return handler(request, info);
    });
    const running = connection.run().finally(() => {
      this.#connections.delete(connection);
    });
    this.#connections.set(connection, running);
  }

  /** Past maxConnections: 503 with Retry-After, then close; bounded. */
  #refuseOverloaded(conn: AcceptedConn, host: ConnectionHost): void {
    if (this.#refusals.size >= MAX_OVERLOAD_REFUSALS) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      return;
    }
    const connection = new HttpConnection(conn, host, () => {
      throw new Error("a refused connection has no handler");
    });
    const refusing = connection.refuse(
      503,
      "too many connections, retry later",
      [["retry-after", String(OVERLOAD_RETRY_AFTER_SECONDS)]],
    ).finally(() => this.#refusals.delete(connection));
    this.#refusals.set(connection, refusing);
  }

  publish(topic: string, data: PublishData): number {
    return this.#topics.publish(topic, data);
  }

  subscriberCount(topic: string): number {
    return this.#topics.subscriberCount(topic);
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#runShutdown();
    return this.#shutdown;
  }

  async #runShutdown(): Promise<void> {
    this.#shuttingDown = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#source.close();
    await this.#acceptLoop;
    for (const connection of this.#connections.keys()) {
      connection.beginShutdown();
    }
    const allClosed = Promise.all([
      ...this.#connections.values(),
      ...this.#refusals.values(),
    ]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#shutdownTimeout);
    });
    const expired = await Promise.race([allClosed.then(() => false), timedOut]);
    clearTimeout(timer);
    if (expired) {
      for (const connection of this.#connections.keys()) {
        connection.forceClose();
      }
      for (const connection of this.#refusals.keys()) {
        connection.forceClose();
      }
      await allClosed;
    }
    this.#resolveFinished();
  }
}
