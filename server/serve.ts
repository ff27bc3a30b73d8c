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
 * Listening happens in an adapter (`deno/listen.ts` with `Deno.listen` or
 * `Deno.listenTls`, `node/listen.ts` with `node:net`); connections are
 * served by `connection.ts`.
 *
 * @module
 */

import { type ConnectionHost, HttpConnection } from "./connection.ts";
import type {
  AcceptedConn,
  ConnectionSource,
  ListenOptions,
} from "./listener.ts";
import type { NetAddr } from "../socket/transport.ts";
import { type PublishData, TopicRegistry } from "../socket/pubsub.ts";
import type { Broker } from "../socket/broker.ts";
import {
  queueEncodedFrame,
  type WebSocketConnection,
} from "../socket/websocket.ts";
import { bindRequestServer } from "./upgrade.ts";
import { type Admission, ClientLimits, NOT_COUNTED } from "./client_limits.ts";
import { ErrorHook } from "./on_error.ts";
import { ServerError } from "../errors.ts";
import { DEFAULTS } from "../defaults.ts";

/** Options for {@linkcode serve}, named as for `Deno.serve`. */
export interface ServeOptions {
  /** The port to listen on; default 8000. Use 0 for any free port. */
  port?: number;
  /** The address to listen on; default `"0.0.0.0"`. */
  hostname?: string;
  /** Aborting it shuts the server down, like calling `shutdown()`. */
  signal?: AbortSignal;
  /** Called once listening; by default logs the address. */
  onListen?: (addr: NetAddr) => void;
  /** PEM certificate chain; with `key`, the server listens with TLS. */
  cert?: string;
  /** PEM private key for `cert`. */
  key?: string;
  /** Milliseconds for a complete request head; default
   * `DEFAULTS.server.headersTimeout`. */
  headersTimeout?: number;
  /** Milliseconds graceful shutdown may take before connections are closed
   * forcibly; default `DEFAULTS.server.shutdownTimeout`. */
  shutdownTimeout?: number;
  /** Most connections held at once (a positive integer, or `Infinity`);
   * default `DEFAULTS.server.maxConnections`. Past it, new connections
   * get `503 Service Unavailable` with `Retry-After` and are closed. */
  maxConnections?: number;
  /**
   * Called, as with `Deno.serve`, when the handler throws or its promise
   * rejects (or it returns something other than a `Response`); the
   * response it returns is sent instead. The server's own failures (accept,
   * a connection, a response that could not be written, closing a socket
   * at shutdown, `onError` itself failing) come here too as a
   * `ServerError`, and what is returned for them is ignored. A
   * `HandshakeError` from `upgradeWebSocket` and a malformed request body
   * are answered with their own status instead. Default: log the error
   * and answer `500 Internal Server Error`.
   */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** The handler, for the one-argument form `serve({ port, handler })`, as
   * with `Deno.serve`. */
  handler?: ServeHandler;
  /**
   * Addresses and CIDR ranges (`"127.0.0.1"`, `"10.0.0.0/8"`, `"::1"`) of
   * the reverse proxies in front of this server. Only for connections from
   * these is the client taken from `Forwarded` (RFC 7239) or
   * `X-Forwarded-For`, for `info.clientAddress` and the per-client caps;
   * any other peer could write anything there. Default: none.
   */
  trustedProxies?: readonly string[];
  /**
   * Most connections open at once from one client address; past it a new
   * connection is answered `429 Too Many Requests` with `Retry-After` and
   * closed (from a trusted proxy: the WebSocket handshake is refused with
   * 429). Default: no limit.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Most WebSocket handshakes per second from one client address (in
   * bursts of up to as many); past it the handshake is refused with 429
   * and `Retry-After`. Default: no limit.
   */
  maxHandshakesPerSecond?: number;
  /**
   * Linux only: let several processes listen on the same port
   * (`SO_REUSEPORT`); the kernel spreads new connections over them. Each
   * process runs its own server; give them a `broker` so that `publish`
   * reaches the subscribers of every process. Default false.
   */
  reusePort?: boolean;
  /**
   * Carries `publish` to the subscribers of other processes and delivers
   * theirs here (such as `RedisBroker` from the `./redis` entry). The
   * server attaches to it when it starts and detaches at shutdown; closing
   * the broker is the caller's. Without one, pub/sub stays in this process.
   */
  broker?: Broker;
}

/** What a handler learns about the request, as with `Deno.serve`. */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: NetAddr;
  /** Resolves once the response was written (the 101, for an upgrade) or
   * the connection ended before it could be; never rejects. */
  readonly completed: Promise<void>;
  /** The client's IP address: `remoteAddr.hostname`, or, when that is one
   * of `trustedProxies`, the client the proxy names. Canonical (an
   * IPv4-mapped IPv6 address is written as IPv4). */
  readonly clientAddress: string;
}

/** A request handler. A `HandshakeError` it throws (from
 * `upgradeWebSocket`) is answered with the refusal (400, 426, ...); any
 * other error goes to `ServeOptions.onError` (by default logged and
 * answered with 500). */
export type ServeHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | Promise<Response>;

/** A running server. */
export interface Server {
  /** The address the server listens on (with the real port when 0 was
   * asked for). */
  readonly addr: NetAddr;
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
   * `server.publish`. Each socket's `maxQueuedBytes` still applies. With a
   * `broker`, the subscribers of the other processes receive it too.
   *
   * @param topic the topic
   * @param data text or bytes (not a Blob)
   * @returns how many sockets of this process the message was queued to
   */
  publish(topic: string, data: PublishData): number;
  /**
   * How many sockets are subscribed to `topic`.
   *
   * @param topic the topic
   * @returns the count
   */
  subscriberCount(topic: string): number;
  /** Keeps the process alive while the server listens (the default). */
  ref(): void;
  /** Lets the process exit even though the server still listens. */
  unref(): void;
  /** `await using server = serve(...)` shuts the server down (see
   * {@linkcode Server.shutdown}) when the scope ends. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Sorts out `serve`'s forms, as `Deno.serve` takes them: `(handler)`,
 * `(options, handler)` and `({ ...options, handler })`.
 *
 * @param optionsOrHandler the first argument
 * @param maybeHandler the second argument
 * @param name the function's name, for the error
 * @returns the options and the handler
 * @throws {TypeError} when no handler function is given
 */
export function serveArguments(
  optionsOrHandler: ServeOptions | ServeHandler,
  maybeHandler: ServeHandler | undefined,
  name: string,
): { options: ServeOptions; handler: ServeHandler } {
  if (typeof optionsOrHandler === "function") {
    return { options: {}, handler: optionsOrHandler };
  }
  const options = optionsOrHandler ?? {};
  const handler = maybeHandler ?? options.handler;
  if (typeof handler !== "function") {
    throw new TypeError(
      `${name}: a handler function is required (as the last argument or as options.handler)`,
    );
  }
  return { options, handler };
}

function formatAuthority(addr: NetAddr): string {
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `${host}:${addr.port}`;
}

/** The per-client caps `options` ask for. */
function clientLimits(options: ServeOptions): ClientLimits {
  return new ClientLimits(options, DEFAULTS.limits.overloadRetryAfterSeconds);
}

/**
 * Checks options before an adapter listens, so a bad option leaves nothing
 * open.
 *
 * @param options what the caller passed to `serve`
 * @returns where to listen, with the defaults filled in
 * @throws {RangeError} for an invalid `maxConnections`
 * @throws {TypeError} when only one of `cert` and `key` is given, or
 * `onError` is not a function
 */
export function checkServeOptions(options: ServeOptions): ListenOptions {
  const maxConnections = options.maxConnections ??
    DEFAULTS.server.maxConnections;
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
  if (options.onError !== undefined && typeof options.onError !== "function") {
    throw new TypeError("serve: onError must be a function");
  }
  clientLimits(options); // throws for a bad cap or trusted proxy
  return {
    port: options.port ?? 8000,
    hostname: options.hostname ?? "0.0.0.0",
    cert: options.cert,
    key: options.key,
    reusePort: options.reusePort ?? false,
  };
}

/**
 * Serves what `source` accepts with `handler`: the part of `serve` that
 * every adapter shares once it listens.
 *
 * @param options the options given to `serve` (already checked)
 * @param handler the request handler
 * @param source the adapter's listener
 * @returns the running server
 */
export function startServer(
  options: ServeOptions,
  handler: ServeHandler,
  source: ConnectionSource,
): Server {
  return new RunningServer(options, handler, source);
}

class RunningServer implements Server {
  readonly addr: NetAddr;
  readonly finished: Promise<void>;
  readonly #source: ConnectionSource;
  /** Open connections; each tells the host when it ended. */
  readonly #connections = new Set<HttpConnection>();
  /** Settles once #connections is empty; made by a shutdown. */
  #allEnded: PromiseWithResolvers<void> | null = null;
  /** Connections past maxConnections being answered 503. */
  readonly #refusals = new Map<HttpConnection, Promise<void>>();
  readonly #maxConnections: number;
  readonly #shutdownTimeout: number;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.shutdown();
  readonly #acceptLoop: Promise<void>;
  readonly #limits: ClientLimits;
  readonly #topics: TopicRegistry<WebSocketConnection>;
  readonly #broker: Broker | undefined;
  #shuttingDown = false;
  #shutdown: Promise<void> | undefined;
  #resolveFinished!: () => void;

  constructor(
    options: ServeOptions,
    handler: ServeHandler,
    source: ConnectionSource,
  ) {
    this.#shutdownTimeout = options.shutdownTimeout ??
      DEFAULTS.server.shutdownTimeout;
    this.#limits = clientLimits(options);
    this.#maxConnections = options.maxConnections ??
      DEFAULTS.server.maxConnections;
    const headersTimeout = options.headersTimeout ??
      DEFAULTS.server.headersTimeout;
    this.#source = source;
    this.#broker = options.broker;
    this.#topics = new TopicRegistry(queueEncodedFrame, options.broker);
    if (this.#broker !== undefined) {
      const topics = this.#topics;
      this.#broker.attach((topic, data) => topics.deliver(topic, data));
    }
    const secure = source.secure;
    this.addr = source.addr;
    this.finished = new Promise((resolve) => {
      this.#resolveFinished = resolve;
    });
    const scheme = secure ? "https" : "http";
    const isShuttingDown = () => this.#shuttingDown;
    const errors = new ErrorHook(options.onError);
    const limits = this.#limits;
    const topics = this.#topics;
    const onEnded = (connection: HttpConnection) =>
      this.#connectionEnded(connection);
    const host: ConnectionHost = {
      scheme,
      localAuthority: formatAuthority(this.addr),
      headersTimeout,
      get shuttingDown(): boolean {
        return isShuttingDown();
      },
      errors,
      handle(request, completed, remoteAddr) {
        const peer = remoteAddr.hostname;
        bindRequestServer(request, {
          topics,
          admitUpgrade: (): Admission =>
            limits.admitUpgrade(peer, request.headers),
        });
        const clientAddress = limits.clientOf(peer, request.headers);
        return handler(request, { remoteAddr, completed, clientAddress });
      },
      connectionEnded: onEnded,
    };
    this.#acceptLoop = source.accept(
      (conn) => this.#onConnection(conn, host),
      (error) =>
        errors.report(
          new ServerError("accept", "accepting a connection failed", error),
        ),
    );
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
      this.#refuse(
        conn,
        host,
        503,
        "too many connections, retry later",
        DEFAULTS.limits.overloadRetryAfterSeconds,
      );
      return;
    }
    const admission = this.#limits.admitConnection(conn.remoteAddr.hostname);
    if (!("release" in admission)) {
      this.#refuse(
        conn,
        host,
        429,
        admission.message,
        admission.retryAfterSeconds,
      );
      return;
    }
    // No closure or promise per connection: it calls the host back.
    const connection = new HttpConnection(conn, host, admission);
    this.#connections.add(connection);
    connection.run();
  }

  #connectionEnded(connection: HttpConnection): void {
    this.#connections.delete(connection);
    if (this.#connections.size === 0) this.#allEnded?.resolve();
  }

  /** Settles once every open connection ended. */
  #whenConnectionsEnded(): Promise<void> {
    if (this.#connections.size === 0) return Promise.resolve();
    this.#allEnded ??= Promise.withResolvers<void>();
    return this.#allEnded.promise;
  }

  /** Past a cap: an error status with Retry-After, then close; the
   * refusals in progress are bounded too. */
  #refuse(
    conn: AcceptedConn,
    host: ConnectionHost,
    status: number,
    message: string,
    retryAfterSeconds: number,
  ): void {
    if (this.#refusals.size >= DEFAULTS.limits.maxOverloadRefusals) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      return;
    }
    // Never run: only refuse() is called, so the host's handler is not.
    const connection = new HttpConnection(conn, host, NOT_COUNTED);
    const refusing = connection.refuse(
      status,
      message,
      [["retry-after", String(retryAfterSeconds)]],
    ).finally(() => this.#refusals.delete(connection));
    this.#refusals.set(connection, refusing);
  }

  publish(topic: string, data: PublishData): number {
    return this.#topics.publish(topic, data);
  }

  subscriberCount(topic: string): number {
    return this.#topics.subscriberCount(topic);
  }

  ref(): void {
    this.#source.ref?.();
  }

  unref(): void {
    this.#source.unref?.();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#runShutdown();
    return this.#shutdown;
  }

  async #runShutdown(): Promise<void> {
    this.#shuttingDown = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#source.close();
    this.#broker?.detach();
    await this.#acceptLoop;
    for (const connection of this.#connections) {
      connection.beginShutdown();
    }
    const allClosed = Promise.all([
      this.#whenConnectionsEnded(),
      ...this.#refusals.values(),
    ]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#shutdownTimeout);
    });
    const expired = await Promise.race([allClosed.then(() => false), timedOut]);
    clearTimeout(timer);
    if (expired) {
      for (const connection of this.#connections) {
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
