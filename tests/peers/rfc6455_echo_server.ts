/**
 * The echo server of `echo_server.ts`'s conventions, built on this
 * library's `serve` and `upgradeWebSocket` with default options. Unlike the
 * native stand-in it can send pings, so it supports `ping:<payload>`.
 *
 * @module
 */

import { serve, upgradeWebSocket } from "../../server.ts";
import {
  ECHO_SUBPROTOCOL,
  type EchoServerUnderTest,
  offersProtocol,
  parseCloseCommand,
  type RunningEchoServer,
  type ServerFeature,
} from "./echo_server.ts";
import { withDeadline } from "./bounded.ts";

const textDecoder = new TextDecoder();

/**
 * Starts this library's server following the echo conventions.
 *
 * @returns the running server
 */
export function startRfc6455EchoServer(): Promise<RunningEchoServer> {
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const path = new URL(request.url).pathname;
      if (path !== "/") {
        return new Response("refused by the test server", { status: 403 });
      }
      const offered = request.headers.get("sec-websocket-protocol");
      const protocol = offersProtocol(offered, ECHO_SUBPROTOCOL)
        ? ECHO_SUBPROTOCOL
        : undefined;
      const { socket, response } = upgradeWebSocket(request, { protocol });
      socket.binaryType = "arraybuffer";
      const pingsAwaitingPong = new Set<string>();
      socket.addEventListener("pong", (event) => {
        const payload = textDecoder.decode(event.data);
        if (pingsAwaitingPong.delete(payload)) socket.send(`pong:${payload}`);
      });
      socket.onmessage = (event) => {
        if (typeof event.data === "string") {
          const command = parseCloseCommand(event.data);
          if (command !== null) {
            socket.close(command.code, command.reason);
            return;
          }
          if (event.data.startsWith("ping:")) {
            const payload = event.data.slice("ping:".length);
            pingsAwaitingPong.add(payload);
            socket.ping(payload);
            return;
          }
        }
        socket.send(event.data);
      };
      return response;
    },
  );
  return Promise.resolve({
    url: `ws://127.0.0.1:${server.addr.port}`,
    close: () => withDeadline(server.shutdown(), 15_000, "server shutdown"),
  });
}

/** This library's server: the one the interop suite is for. */
export const rfc6455EchoServer: EchoServerUnderTest = {
  name: "rfc6455 server",
  features: new Set<ServerFeature>(["server-ping"]),
  knownFailures: new Map(),
  start: startRfc6455EchoServer,
};
