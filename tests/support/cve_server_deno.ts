/**
 * The server the CVE inputs (cve_inputs.ts) are fed to, shared by their
 * test and their benchmark: this library's default server with
 * permessage-deflate offered, echoing every message, on a free loopback
 * port. Deno only.
 *
 * @module
 */

import { perMessageDeflate } from "../../deflate.ts";
import { serve, type Server, upgradeWebSocket } from "../../mod.ts";

/** Starts the echo server the CVE inputs are sent to; an error that
 * reaches `onError` answers 500 "unexpected", which no case expects. */
export function startCveEchoServer(): Server {
  return serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    onError: () => new Response("unexpected", { status: 500 }),
  }, (request) => {
    const { socket, response } = upgradeWebSocket(request, {
      perMessageDeflate: perMessageDeflate(),
    });
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
}
