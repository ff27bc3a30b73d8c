/**
 * The echo server of `echo_server.ts`'s conventions, built on this
 * library's `serve` and `upgradeWebSocket` with default options. Unlike the
 * native stand-in it can send pings, so it supports `ping:<payload>`.
 *
 * @module
 */

import { serve, upgradeWebSocket } from "../../../mod.ts";
import {
  closeOnCommand,
  type EchoServerUnderTest,
  refuseOtherPaths,
  type RunningEchoServer,
  selectEchoProtocol,
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
      const refusal = refuseOtherPaths(request);
      if (refusal !== null) return refusal;
      const { socket, response } = upgradeWebSocket(request, {
        protocol: selectEchoProtocol(request),
      });
      socket.binaryType = "arraybuffer";
      const pingsAwaitingPong = new Set<string>();
      socket.addEventListener("pong", (event) => {
        const payload = textDecoder.decode(event.data);
        if (pingsAwaitingPong.delete(payload)) socket.send(`pong:${payload}`);
      });
      socket.onmessage = (event) => {
        if (closeOnCommand(socket, event.data)) return;
        if (typeof event.data === "string" && event.data.startsWith("ping:")) {
          const payload = event.data.slice("ping:".length);
          pingsAwaitingPong.add(payload);
          socket.ping(payload);
          return;
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
