/**
 * The echo server the interop peers talk to, and its contract. Any server
 * under test implements the same conventions:
 *
 * - `GET /` upgrades to WebSocket and echoes every message back with the
 *   same type (text or binary) and the same content.
 * - When the client offers the subprotocol `chat`, the server selects it;
 *   otherwise it selects none.
 * - Any other path (the peers use `/reject`) refuses the handshake with
 *   HTTP 403 and does not upgrade.
 * - The text message `close:<code>:<reason>` is not echoed: the server
 *   starts the close handshake with that code and reason.
 * - The text message `ping:<payload>` is not echoed: the server sends a ping
 *   carrying `<payload>`, and when the matching pong arrives it sends the
 *   text message `pong:<payload>`. Only servers whose API can send pings
 *   support this; they list `"server-ping"` in {@linkcode EchoServerUnderTest.features}.
 *
 * The stand-in below uses Deno's built-in server (`Deno.serve` and
 * `Deno.upgradeWebSocket`). It cannot send pings.
 *
 * @module
 */

/** Optional conventions a server may support. */
export type ServerFeature = "server-ping";

/** A running echo server. */
export interface RunningEchoServer {
  /** Base URL without a path, like `ws://127.0.0.1:12345`. */
  url: string;
  /** Closes open connections and stops listening. */
  close(): Promise<void>;
}

/** An echo server implementation the interop suite can run against. */
export interface EchoServerUnderTest {
  /** Human-readable name for test titles. */
  name: string;
  /** Which optional conventions this server supports. */
  features: ReadonlySet<ServerFeature>;
  /**
   * Checks this server is known to fail, keyed `<peer id>/<check>`, with the
   * reason. They are reported as skipped instead of failing the suite.
   */
  knownFailures: ReadonlyMap<string, string>;
  /** Starts the server on 127.0.0.1, port 0. */
  start(): Promise<RunningEchoServer>;
}

/** The subprotocol the server selects when offered. */
export const ECHO_SUBPROTOCOL = "chat";

/**
 * Splits `close:<code>:<reason>` into its parts, or returns null when the
 * text is not a close command.
 *
 * @param text a received text message
 * @returns the code and reason to close with
 */
export function parseCloseCommand(
  text: string,
): { code: number; reason: string } | null {
  if (!text.startsWith("close:")) return null;
  const rest = text.slice("close:".length);
  const colon = rest.indexOf(":");
  const codeText = colon === -1 ? rest : rest.slice(0, colon);
  const reason = colon === -1 ? "" : rest.slice(colon + 1);
  const code = Number(codeText);
  if (!Number.isInteger(code)) return null;
  return { code, reason };
}

/**
 * Whether the `Sec-WebSocket-Protocol` request header offers `protocol`.
 *
 * @param header the header value, or null when absent
 * @param protocol the subprotocol looked for
 * @returns true when it is among the comma-separated tokens
 */
export function offersProtocol(
  header: string | null,
  protocol: string,
): boolean {
  if (header === null) return false;
  for (const offered of header.split(",")) {
    if (offered.trim() === protocol) return true;
  }
  return false;
}

/**
 * The answer of an echo server to a request for any path but `/`: a 403,
 * without upgrading.
 *
 * @param request the upgrade request
 * @returns the refusal, or null for `/`
 */
export function refuseOtherPaths(request: Request): Response | null {
  if (new URL(request.url).pathname === "/") return null;
  return new Response("refused by the test server", { status: 403 });
}

/**
 * The subprotocol an echo server selects: {@linkcode ECHO_SUBPROTOCOL} when
 * the request offers it, else none.
 *
 * @param request the upgrade request
 * @returns the subprotocol, or undefined
 */
export function selectEchoProtocol(request: Request): string | undefined {
  const offered = request.headers.get("sec-websocket-protocol");
  return offersProtocol(offered, ECHO_SUBPROTOCOL)
    ? ECHO_SUBPROTOCOL
    : undefined;
}

/**
 * Acts on a `close:<code>:<reason>` message: starts the close handshake on
 * `socket` with that code and reason.
 *
 * @param socket the server's socket
 * @param data the message received
 * @returns true when it was a close command (not to be echoed)
 */
export function closeOnCommand(
  socket: { close(code: number, reason: string): void },
  data: unknown,
): boolean {
  if (typeof data !== "string") return false;
  const command = parseCloseCommand(data);
  if (command === null) return false;
  socket.close(command.code, command.reason);
  return true;
}

/**
 * Starts the stand-in: Deno's native WebSocket server following the
 * conventions above (except `ping:`, which its API cannot do).
 *
 * @returns the running server
 */
export function startNativeEchoServer(): Promise<RunningEchoServer> {
  const sockets = new Set<WebSocket>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const refusal = refuseOtherPaths(request);
      if (refusal !== null) return refusal;
      const { socket, response } = Deno.upgradeWebSocket(request, {
        protocol: selectEchoProtocol(request),
      });
      socket.binaryType = "arraybuffer";
      sockets.add(socket);
      socket.onclose = () => sockets.delete(socket);
      socket.onerror = () => {};
      socket.onmessage = (event) => {
        if (closeOnCommand(socket, event.data)) return;
        socket.send(event.data);
      };
      return response;
    },
  );
  return Promise.resolve({
    url: `ws://127.0.0.1:${server.addr.port}`,
    async close(): Promise<void> {
      for (const socket of sockets) {
        try {
          socket.close(1001, "test server shutting down");
        } catch {
          // Already closing.
        }
      }
      await server.shutdown();
    },
  });
}

/** Deno's built-in server, the stand-in until this library's server lands. */
export const nativeDenoEchoServer: EchoServerUnderTest = {
  name: "Deno native server",
  features: new Set<ServerFeature>(),
  knownFailures: new Map([
    [
      "node-ws/subprotocol",
      'Deno.upgradeWebSocket splits Sec-WebSocket-Protocol on ", " only: ' +
      'ws offers "superchat,chat" and Deno answers 500',
    ],
  ]),
  start: startNativeEchoServer,
};
