/**
 * `upgradeWebSocket` for requests received by this library's `serve()`, and
 * the bookkeeping that connects a handler's call to the connection the
 * request arrived on. No I/O happens here: the connection loop in
 * `connection.ts` writes the 101 and attaches the socket once the
 * handler returns the marker response.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";
import { validateUpgradeRequest } from "../handshake/server.ts";
import { negotiateDeflate } from "../deflate/negotiation.ts";
import {
  checkDeflateSetup,
  type PerMessageDeflateSetup,
} from "../deflate/extension.ts";
import type { TopicRegistry } from "../socket/pubsub.ts";
import { OriginPolicy } from "../handshake/origin.ts";
import { type Admission, NOT_COUNTED } from "./client_limits.ts";
import {
  createPendingSocket,
  type WebSocketConnection,
} from "../socket/websocket.ts";
import type { NegotiatedDeflate, WebSocketOptions } from "../socket/options.ts";

/** Options for {@linkcode upgradeWebSocket}: the socket's options plus the
 * subprotocol to answer with and whether to accept compression. */
export interface UpgradeOptions extends WebSocketOptions {
  /** The subprotocol to accept, as with `Deno.upgradeWebSocket`. It is sent
   * only when the client offered it in `Sec-WebSocket-Protocol`; otherwise no
   * subprotocol is selected and `socket.protocol` stays `""` (answering with
   * one the client did not offer would make the client fail the
   * connection). */
  protocol?: string;
  /**
   * Accept permessage-deflate (RFC 7692) when the client offers it (every
   * browser does), with what `perMessageDeflate()` from the `./deflate`
   * entry returns:
   *
   * ```ts ignore
   * import { perMessageDeflate } from "@rfc6455/websocket/deflate";
   * const deflate = perMessageDeflate(); // once, for every upgrade
   * upgradeWebSocket(request, { perMessageDeflate: deflate });
   * ```
   *
   * Every valid offer is accepted, with context takeover unless the client
   * or the options decline it, and windows bounded by the preset; the 101
   * states what was agreed and `socket.extensions` reports it. Messages
   * that arrive compressed are inflated (bounded by `maxMessageSize`: a
   * zip bomb fails the connection with 1009), messages sent from the
   * threshold on are compressed (`send(data, { compress })` decides per
   * message). Frames from `publish()` are encoded once for every
   * subscriber and so go out uncompressed (RSV1 is per message, so that is
   * valid).
   *
   * Default `false`: the compressor is the npm `pako` package, which only
   * the `./deflate` entry loads.
   */
  perMessageDeflate?: false | PerMessageDeflateSetup;
  /**
   * The page origins allowed to open a socket, against cross-site WebSocket
   * hijacking: a browser sends a page's cookies with a handshake to any
   * site, so a server that authenticates by cookie must refuse pages it
   * does not know. Each string is compared to the request's `Origin` after
   * normalising both (`https://Example.com:443` is `https://example.com`);
   * `null` (the value) admits requests with no `Origin` header, as
   * non-browser clients send. Anything else is refused with 403 before any
   * socket exists (a `ForbiddenOriginError`, reported to the server's
   * `onError`). Default: every origin (no check).
   */
  origins?: ReadonlyArray<string | null>;
}

/** The policies of the `origins` lists seen, built once per list. */
const policies = new WeakMap<ReadonlyArray<string | null>, OriginPolicy>();

function originPolicy(origins: ReadonlyArray<string | null>): OriginPolicy {
  let policy = policies.get(origins);
  if (policy === undefined) {
    policy = new OriginPolicy(origins);
    policies.set(origins, policy);
  }
  return policy;
}

/** What {@linkcode upgradeWebSocket} returns. */
export interface UpgradeResult {
  /** The socket, in CONNECTING state until the 101 has been written. */
  socket: WebSocketConnection;
  /** The response the handler must return to complete the upgrade. */
  response: Response;
}

/** An upgrade the handler asked for, waiting for the handler to return. */
export interface PendingUpgrade {
  /** The socket handed to the handler. */
  readonly socket: WebSocketConnection;
  /** The marker response that completes this upgrade. */
  readonly response: Response;
  /** The client's `Sec-WebSocket-Key`. */
  readonly key: string;
  /** The selected subprotocol, if any. */
  readonly protocol: string | undefined;
  /** The `Sec-WebSocket-Extensions` answer, if an extension was agreed. */
  readonly extensions: string | undefined;
  /** How the socket runs permessage-deflate, when it was agreed. */
  readonly perMessageDeflate: NegotiatedDeflate | undefined;
}

/** What the connection loop records about each request it hands out. */
export interface RequestContext {
  /** The method as sent on the request line. */
  readonly method: string;
  /** `"1.1"` or `"1.0"`. */
  readonly httpVersion: string;
  /** Whether the request carries a body (Content-Length > 0 or chunked). */
  hasBody: boolean;
  /** Set by {@linkcode upgradeWebSocket}. */
  upgrade: PendingUpgrade | undefined;
}

const contexts: WeakMap<Request, RequestContext> = new WeakMap();
const upgradeResponses: WeakSet<Response> = new WeakSet();

/** Record that `request` arrived on one of our connections. */
export function registerRequest(
  request: Request,
  context: RequestContext,
): void {
  contexts.set(request, context);
}

/** Whether `response` is a marker returned by {@linkcode upgradeWebSocket}. */
export function isUpgradeResponse(response: unknown): boolean {
  return response instanceof Response && upgradeResponses.has(response);
}

function createMarkerResponse(): Response {
  // A Response cannot be constructed with status 101, so the marker is a
  // bodiless response whose status reads as 101, as Deno's does.
  const response = new Response(null, { status: 200 });
  Object.defineProperty(response, "status", { value: 101 });
  Object.defineProperty(response, "statusText", {
    value: "Switching Protocols",
  });
  upgradeResponses.add(response);
  return response;
}

/**
 * Accept a WebSocket upgrade, like `Deno.upgradeWebSocket`: validate the
 * request (RFC 6455 section 4.2.1), create the socket, and return it with the
 * response the handler must return. The socket opens once the server has
 * written the 101 response. Headers set on `response.headers` are sent with
 * the 101 (the handshake headers themselves cannot be overridden).
 *
 * @example
 * ```ts ignore
 * serve({ port: 8080 }, (request) => {
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * });
 * ```
 *
 * @throws {TypeError} when `request` did not come from this library's
 * `serve()`, or `upgradeWebSocket` was already called for it.
 * @throws {RangeError} for an invalid option.
 * @throws {TypeError} when `perMessageDeflate` is not what
 * `perMessageDeflate()` returns.
 * @throws {HandshakeError} when the request is not a valid upgrade (400,
 * 405, 426 with `Sec-WebSocket-Version: 13`, 505); if the handler lets it
 * escape, the server answers with that refusal instead of a 500.
 */
export function upgradeWebSocket(
  request: Request,
  options: UpgradeOptions = {},
): UpgradeResult {
  const context = contexts.get(request);
  if (context === undefined) {
    throw new TypeError(
      "upgradeWebSocket: the request was not received by this library's serve()",
    );
  }
  if (context.upgrade !== undefined) {
    throw new TypeError(
      "upgradeWebSocket: already called for this request",
    );
  }
  const validated = validateUpgradeRequest({
    method: context.method,
    httpVersion: context.httpVersion,
    headers: request.headers,
  });
  if (context.hasBody) {
    throw new HandshakeError(
      400,
      "a WebSocket upgrade request must not have a body",
    );
  }
  const { protocol: wanted, perMessageDeflate, origins, ...socketOptions } =
    options;
  if (origins !== undefined) {
    originPolicy(origins).check(request.headers.get("origin"));
  }
  const server = requestServers.get(request);
  const admission = server?.admitUpgrade();
  const protocol = wanted !== undefined && validated.protocols.includes(wanted)
    ? wanted
    : undefined;
  const setup = checkDeflateSetup(perMessageDeflate);
  const deflate = setup === undefined
    ? undefined
    : negotiateDeflate(validated.extensionsHeader, setup.options);
  const socket = createPendingSocket("server", socketOptions, server?.topics);
  // Uncounted (the usual case): no listener, no closure on the socket.
  if (admission !== undefined && admission !== NOT_COUNTED) {
    socket.addEventListener("close", () => admission.release(), {
      once: true,
    });
  }
  const response = createMarkerResponse();
  context.upgrade = {
    socket,
    response,
    key: validated.key,
    protocol,
    extensions: deflate?.response,
    perMessageDeflate: deflate === undefined ? undefined : {
      params: deflate.params,
      compressors: setup!.compressors,
      threshold: setup!.options.threshold,
    },
  };
  return { socket, response };
}

/** What `upgradeWebSocket` needs from the server a request arrived at. */
export interface RequestServer {
  /** The server's pub/sub topics. */
  readonly topics: TopicRegistry<WebSocketConnection>;
  /**
   * Checks the per-client caps for a handshake and counts the socket.
   *
   * @returns the admission, released when the socket closes
   * @throws {HandshakeError} 429 past a cap
   */
  admitUpgrade(): Admission;
}

const requestServers = new WeakMap<Request, RequestServer>();

/**
 * Records which server a request belongs to, so that `upgradeWebSocket`
 * gives the socket that server's topics and applies its caps. `serve()`
 * calls this before the handler runs.
 *
 * @param request a request received by `serve()`
 * @param server that server's side
 */
export function bindRequestServer(
  request: Request,
  server: RequestServer,
): void {
  requestServers.set(request, server);
}
