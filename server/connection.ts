/**
 * One HTTP/1.1 server connection: read request heads, build standard
 * `Request`s, call the handler, write the responses, keep the connection
 * alive between requests, and hand it to a WebSocket after a 101.
 *
 * Uses no runtime-specific API: the connection is a structural
 * {@linkcode ByteConn} (a `Deno.Conn` satisfies it); `startServer` in
 * `serve.ts` and a runtime adapter do the listening.
 *
 * @module
 */

import { HandshakeError, HttpError, ServerError } from "../errors.ts";
import { computeAcceptKey } from "../handshake/accept_key.ts";
import { ForbiddenOriginError } from "../handshake/origin.ts";
import {
  buildUpgradeResponseHead,
  refusalResponse,
} from "../handshake/server.ts";
import { listContainsToken } from "../http1/header_grammar.ts";
import {
  headerValues,
  type RequestHead,
  RequestHeadParser,
} from "../http1/request.ts";
import { encodeLatin1 } from "../http1/head.ts";
import {
  type BodyDecoder,
  createBodyDecoder,
  requestBodyFraming,
} from "../http1/body.ts";
import { ConnReader, RequestBody, TIMED_OUT } from "./body.ts";
import { checkMethod, requestUrl, textResponse } from "./request.ts";
import { type ErrorHook, internalServerError } from "./on_error.ts";
import { type WriteAll, writeResponse } from "./response.ts";
import type { Admission } from "./client_limits.ts";
import type { AcceptedConn } from "./listener.ts";
import {
  isUpgradeResponse,
  type PendingUpgrade,
  registerRequest,
  type RequestContext,
} from "./upgrade.ts";
import {
  abortPendingSocket,
  attachConnectionWith,
  closeSocketForShutdown,
  type WebSocketConnection,
} from "../socket/websocket.ts";
import type { AttachedConnectionHook } from "../socket/engine.ts";
import { lingerThenClose } from "../socket/linger.ts";
import { type NetAddr, writeAll } from "../socket/transport.ts";
import { DEFAULTS } from "../defaults.ts";

/** What a connection needs from the server that accepted it. */
export interface ConnectionHost {
  /** `"https"` on TLS listeners, else `"http"`. */
  readonly scheme: "http" | "https";
  /** `host:port` of the listener, used when a request has no Host. */
  readonly localAuthority: string;
  /** Milliseconds allowed for a complete request head. */
  readonly headersTimeout: number;
  /** Whether the server is shutting down (no keep-alive, no upgrades). */
  readonly shuttingDown: boolean;
  /** Where handler errors and the server's own failures go. */
  readonly errors: ErrorHook;
  /**
   * Calls the user's handler for a request of a connection from
   * `remoteAddr` (one function for every connection, so none holds a
   * closure of its own).
   */
  handle(
    request: Request,
    completed: Promise<void>,
    remoteAddr: NetAddr,
  ): Response | Promise<Response>;
  /** The connection is closed (for an upgraded one, the WebSocket's too). */
  connectionEnded(connection: HttpConnection): void;
}

/** Ends the request loop: the response said close, or the socket took over. */
type RequestOutcome = "keep-alive" | "close" | "upgraded";

/** Reads at most this much per `read` call. */
const READ_BUFFER_BYTES = 4 * 1024;

/** What waiting on a handler or a body gives when the server gave up. */
const FORCED = Symbol("forced");

/** Serves one connection from accept to close. */
export class HttpConnection implements AttachedConnectionHook {
  readonly #conn: AcceptedConn;
  readonly #host: ConnectionHost;
  readonly #reader: ConnReader;
  /** Released once the connection ended. */
  readonly #admission: Admission;
  /** Writes every byte to the connection; made on first use. */
  #writeAll: WriteAll | null = null;
  /** Settles when forceClose() is called; created when first waited on
   * and dropped at the upgrade (each wait leaves a reaction on it). */
  #forcedSignal: PromiseWithResolvers<typeof FORCED> | null = null;
  #forcedCalled = false;
  #closed = false;
  #idle = true;
  #socket: WebSocketConnection | undefined;
  /** A socket took the connection over: it tells when it closed. */
  #attached = false;
  #ended = false;
  #requestAbort: AbortController | undefined;
  /** The request body failed to parse: the next request's start is lost. */
  #framingBroken = false;

  /**
   * Wrap an accepted connection; call {@linkcode HttpConnection.run} next.
   *
   * @param conn the accepted connection
   * @param host the server's settings and handler
   * @param admission released once the connection ended
   */
  constructor(conn: AcceptedConn, host: ConnectionHost, admission: Admission) {
    this.#conn = conn;
    this.#host = host;
    this.#admission = admission;
    this.#reader = new ConnReader(conn, READ_BUFFER_BYTES);
  }

  /** Serve requests until the connection closes; the host's
   * `connectionEnded` is called once it is closed (for an upgraded
   * connection, once the WebSocket finished). The request loop's frames
   * (request, headers, parser) end at the upgrade. */
  run(): void {
    void this.#serveRequests();
  }

  /** The upgraded socket's connection is closed. Internal. */
  connectionClosed(): void {
    this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#admission.release();
    this.#host.connectionEnded(this);
  }

  async #serveRequests(): Promise<void> {
    try {
      let first = true;
      while (!this.#closed) {
        const head = await this.#readHead(first);
        if (head === undefined) break;
        first = false;
        const outcome = await this.#serveRequest(head);
        // What waited on the forced signal for this request is done: drop
        // it, or every request would leave a reaction (and its response).
        this.#forcedSignal = null;
        if (outcome !== "keep-alive") break;
        if (this.#host.shuttingDown) break;
      }
    } catch (error) {
      if (!this.#closed) {
        this.#host.errors.report(
          new ServerError("connection", "a connection failed", error),
        );
      }
    } finally {
      this.#requestAbort?.abort();
      if (this.#socket === undefined) this.#close();
      if (!this.#attached) this.#end();
    }
  }

  /** Called when the server shuts down: close the connection if it is
   * waiting for a request, send 1001 on a WebSocket; a request in flight is
   * answered, then the connection closes. */
  beginShutdown(): void {
    if (this.#socket !== undefined) {
      try {
        closeSocketForShutdown(this.#socket, "server shutting down");
      } catch (error) {
        this.#host.errors.report(
          new ServerError("shutdown", "closing a WebSocket failed", error),
        );
      }
    } else if (this.#idle) {
      this.#close();
    }
  }

  /** Close the connection now, whatever it is doing. */
  forceClose(): void {
    this.#forcedCalled = true;
    this.#forcedSignal?.resolve(FORCED);
    this.#requestAbort?.abort();
    this.#close();
  }

  get #forced(): Promise<typeof FORCED> {
    if (this.#forcedSignal === null) {
      this.#forcedSignal = Promise.withResolvers();
      if (this.#forcedCalled) this.#forcedSignal.resolve(FORCED);
    }
    return this.#forcedSignal.promise;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer, the socket or a failed write.
    }
  }

  get #write(): WriteAll {
    if (this.#writeAll === null) {
      const conn = this.#conn;
      this.#writeAll = (bytes) => writeAll(conn, bytes);
    }
    return this.#writeAll;
  }

  /**
   * Answer with an error status before reading anything (the server is
   * full), then close without losing the answer. Never rejects.
   *
   * @param status the status, such as 503
   * @param message the plain-text body
   * @param headers more response headers, such as `Retry-After`
   */
  async refuse(
    status: number,
    message: string,
    headers: ReadonlyArray<[string, string]> = [],
  ): Promise<void> {
    try {
      await this.#refuse(status, message, headers);
    } catch {
      this.#close();
    }
  }

  /** Answer with an error status, `Connection: close`, and close. */
  async #refuse(
    status: number,
    message: string,
    headers: ReadonlyArray<[string, string]> = [],
  ): Promise<void> {
    const response = textResponse(status, message);
    for (const [name, value] of headers) response.headers.set(name, value);
    try {
      await writeResponse(this.#write, response, {
        headRequest: false,
        http10: false,
        keepAlive: false,
      });
    } catch {
      this.#close(); // the client is gone
      return;
    }
    await this.#lingerThenClose();
  }

  /** Close after an error response without a reset destroying it (the
   * client may still be sending a head or a body): see `lingerThenClose`. */
  async #lingerThenClose(): Promise<void> {
    if (this.#closed) return;
    await lingerThenClose(
      this.#conn,
      () => this.#readToDiscard(),
      () => this.#close(),
    );
  }

  async #readToDiscard(): Promise<number | null> {
    const chunk = await this.#reader.read();
    return chunk === null || chunk === TIMED_OUT ? null : chunk.length;
  }

  /** Read the next head; `undefined` when the connection ended or was
   * refused (the refusal has been written). */
  async #readHead(first: boolean): Promise<RequestHead | undefined> {
    const parser = new RequestHeadParser();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), this.#host.headersTimeout);
    });
    try {
      this.#idle = !this.#reader.hasPending;
      if (this.#idle && this.#host.shuttingDown) return undefined;
      while (true) {
        const chunk = await this.#reader.read(deadline);
        if (chunk === TIMED_OUT) {
          if (first || parser.bytesReceived > 0) {
            await this.#refuse(408, "request head not received in time");
          }
          return undefined;
        }
        if (chunk === null) return undefined;
        this.#idle = false;
        const parsed = parser.push(chunk);
        if (parsed !== undefined) {
          this.#reader.unread(parsed.rest);
          return parsed.head;
        }
      }
    } catch (error) {
      if (error instanceof HttpError) {
        await this.#refuse(error.status, error.message);
      }
      return undefined; // a read failed: the connection is gone
    } finally {
      this.#idle = false;
      clearTimeout(timer);
    }
  }

  async #serveRequest(head: RequestHead): Promise<RequestOutcome> {
    const completed = Promise.withResolvers<void>();
    try {
      return await this.#serveOneRequest(head, completed.promise);
    } finally {
      completed.resolve();
    }
  }

  /** Serves one request; `completed` settles when this returns. */
  async #serveOneRequest(
    head: RequestHead,
    completed: Promise<void>,
  ): Promise<RequestOutcome> {
    let decoder: BodyDecoder | null;
    let request: Request;
    let body: RequestBody | undefined;
    const context: RequestContext = {
      method: head.method,
      httpVersion: head.version === "HTTP/1.1" ? "1.1" : "1.0",
      hasBody: false,
      upgrade: undefined,
    };
    const abort = new AbortController();
    try {
      checkMethod(head.method);
      const framing = requestBodyFraming(head);
      decoder = createBodyDecoder(framing);
      context.hasBody = decoder !== null;
      const url = requestUrl(head, this.#host);
      const headers = new Headers();
      for (const [name, value] of head.headers) headers.append(name, value);
      const expectContinue = headerValues(head, "expect")
        .some((value) => value.toLowerCase() === "100-continue");
      if (decoder !== null) {
        body = new RequestBody(this.#reader, decoder, {
          expectContinue,
          write: this.#write,
          timeout: this.#host.headersTimeout,
        });
      }
      const bodyAllowed = head.method !== "GET" && head.method !== "HEAD";
      request = new Request(url, {
        method: head.method,
        headers,
        body: bodyAllowed && body !== undefined ? body.stream : null,
        signal: abort.signal,
      });
    } catch (error) {
      const refusal = error instanceof HttpError
        ? error
        : new HttpError(400, `malformed request: ${String(error)}`);
      await this.#refuse(refusal.status, refusal.message);
      return "close";
    }
    registerRequest(request, context);
    this.#requestAbort = abort;

    const handled = await this.#callHandler(request, context, completed);
    const upgrade = context.upgrade;
    if (handled === FORCED) {
      if (upgrade !== undefined) {
        abortPendingSocket(upgrade.socket, "the server is shutting down");
      }
      return "close";
    }
    let response = handled;
    if (upgrade !== undefined) {
      if (response === upgrade.response && !this.#host.shuttingDown) {
        return await this.#completeUpgrade(upgrade, response);
      }
      abortPendingSocket(
        upgrade.socket,
        response === upgrade.response
          ? "the server is shutting down"
          : "the handler did not return the upgrade response",
      );
      if (response === upgrade.response) {
        response = textResponse(503, "the server is shutting down");
      }
    }
    const outcome = await this.#respond(head, request, response, body);
    this.#requestAbort = undefined;
    if (outcome === "close" && body !== undefined && !body.done) {
      await this.#lingerThenClose(); // the client may still be sending
    }
    return outcome;
  }

  async #callHandler(
    request: Request,
    context: RequestContext,
    completed: Promise<void>,
  ): Promise<Response | typeof FORCED> {
    let returned = false;
    try {
      const pending = Promise.resolve(
        this.#host.handle(request, completed, this.#conn.remoteAddr),
      );
      pending.catch(() => {}); // reported below, or moot once forced
      const response = await Promise.race([pending, this.#forced]);
      returned = true;
      if (response === FORCED) return response;
      if (!(response instanceof Response)) {
        throw new TypeError(
          `the handler returned ${typeof response}, not a Response`,
        );
      }
      if (
        isUpgradeResponse(response) && response !== context.upgrade?.response
      ) {
        throw new TypeError(
          "the handler returned the upgrade response of another request",
        );
      }
      if (response.status === 101 && !isUpgradeResponse(response)) {
        throw new TypeError(
          "the handler returned a 101 response that this server did not " +
            "make (Deno.upgradeWebSocket's?): with this library's serve(), " +
            "upgrade with upgradeWebSocket imported from @rfc6455/websocket",
        );
      }
      return response;
    } catch (error) {
      if (context.upgrade !== undefined && !returned) {
        abortPendingSocket(context.upgrade.socket, "the handler threw");
        context.upgrade = undefined;
      }
      if (error instanceof ForbiddenOriginError) {
        this.#host.errors.report(
          new ServerError("origin", error.message, error),
        );
      }
      if (error instanceof HandshakeError) return refusalResponse(error);
      if (error instanceof HttpError) {
        // Escaped from reading the request body: its framing is broken.
        this.#framingBroken = true;
        return textResponse(error.status, error.message);
      }
      // onError may hang as a handler may: a forced close ends the wait.
      return await Promise.race([
        this.#host.errors.respond(error),
        this.#forced,
      ]);
    }
  }

  async #respond(
    head: RequestHead,
    request: Request,
    response: Response,
    body: RequestBody | undefined,
  ): Promise<RequestOutcome> {
    const requestConnection = request.headers.get("connection") ?? "";
    const responseConnection = response.headers.get("connection") ?? "";
    let keepAlive = head.version === "HTTP/1.1" &&
      !listContainsToken(requestConnection, "close") &&
      !listContainsToken(responseConnection, "close") &&
      !this.#host.shuttingDown && !this.#framingBroken;
    if (body !== undefined && !body.canDrain(DEFAULTS.limits.maxDrainBytes)) {
      keepAlive = false;
    }
    const context = {
      headRequest: head.method === "HEAD",
      http10: head.version === "HTTP/1.0",
      keepAlive,
      stop: this.#forced,
    };
    let outcome = await writeResponse(this.#write, response, context);
    if (outcome.kind === "unsent") {
      this.#host.errors.report(
        new ServerError(
          "response",
          "the response could not be sent",
          outcome.error,
        ),
      );
      keepAlive = false;
      outcome = await writeResponse(
        this.#write,
        internalServerError(),
        { ...context, keepAlive },
      );
    }
    if (outcome.kind === "cut") {
      if (!this.#closed) {
        this.#host.errors.report(
          new ServerError(
            "response",
            "the response body failed",
            outcome.error,
          ),
        );
      }
      return "close";
    }
    if (outcome.kind !== "complete" || !outcome.reusable || !keepAlive) {
      return "close";
    }
    if (
      body !== undefined && !(await body.drain(DEFAULTS.limits.maxDrainBytes))
    ) {
      return "close";
    }
    return "keep-alive";
  }

  async #completeUpgrade(
    upgrade: PendingUpgrade,
    response: Response,
  ): Promise<RequestOutcome> {
    let head: string;
    try {
      const accept = await computeAcceptKey(upgrade.key);
      head = buildUpgradeResponseHead(accept, {
        protocol: upgrade.protocol,
        extensions: upgrade.extensions,
        headers: response.headers,
      });
    } catch (error) {
      abortPendingSocket(upgrade.socket, "the 101 response could not be built");
      this.#host.errors.report(
        new ServerError(
          "upgrade",
          "the 101 response could not be built",
          error,
        ),
      );
      await this.#refuse(500, "Internal Server Error");
      return "close";
    }
    try {
      await writeAll(this.#conn, encodeLatin1(head));
    } catch {
      abortPendingSocket(upgrade.socket, "the client went away before the 101");
      return "close";
    }
    this.#socket = upgrade.socket;
    this.#requestAbort = undefined;
    this.#forcedSignal = null;
    const leftover = this.#reader.takePending();
    this.#reader.release();
    attachConnectionWith(upgrade.socket, this.#conn, leftover, {
      protocol: upgrade.protocol ?? "",
      extensions: upgrade.extensions ?? "",
      perMessageDeflate: upgrade.perMessageDeflate,
    }, this);
    this.#attached = true;
    // The connection stays open (forceClose() must still reach it); a
    // shutdown that began while the 101 was written missed this socket.
    if (this.#host.shuttingDown) this.beginShutdown();
    return "upgraded";
  }
}
