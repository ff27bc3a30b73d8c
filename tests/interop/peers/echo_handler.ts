/**
 * The request handler of this library's echo server, following
 * `echo_server.ts`'s conventions, with default options. Runtime-neutral:
 * the Deno-hosted server (`rfc6455_echo_server.ts`) and the Node-hosted one
 * (`node_echo_server.ts`, run by Node 24) both serve it. Unlike the native
 * stand-in it can send pings, so it supports `ping:<payload>`.
 *
 * @module
 */

import { upgradeWebSocket } from "../../../node.ts";
import {
  closeOnCommand,
  refuseOtherPaths,
  selectEchoProtocol,
} from "./echo_server.ts";

const textDecoder = new TextDecoder();

/**
 * Answers one request: refuses other paths, upgrades, then echoes.
 *
 * @param request the request
 * @returns the response
 */
export function echoHandler(request: Request): Response {
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
}
