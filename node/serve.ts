/**
 * `serveNodeNet()`: the same server as `serve()`, on `node:net` sockets.
 * Runs in Deno, Bun and Node.
 *
 * @module
 */

import { listenNodeNet } from "./listen.ts";
import {
  checkServeOptions,
  serveArguments,
  type ServeHandler,
  type ServeOptions,
  type Server,
  startServer,
} from "../server/serve.ts";

/**
 * Like `serve` (the same three forms), on `node:net` sockets instead of `Deno.Conn` (plain TCP
 * only: no `cert`/`key`). In Deno, choose it for many busy connections:
 * Deno serves `node:net` sockets in turn, where `Deno.Conn` reads leave
 * most of 10,000 busy connections waiting for seconds (see
 * `docs/PERFORMANCE.md`). In Bun and Node it is the server. It resolves
 * once listening, since `node:net` learns its port asynchronously.
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
 * @param optionsOrHandler as for `serve`, without `cert` and `key`: the
 * options (with `handler` in them for the one-argument form) or the handler
 * @param maybeHandler the request handler, after the options
 * @returns the running server
 */
export async function serveNodeNet(
  optionsOrHandler: ServeOptions | ServeHandler,
  maybeHandler?: ServeHandler,
): Promise<Server> {
  const { options, handler } = serveArguments(
    optionsOrHandler,
    maybeHandler,
    "serveNodeNet",
  );
  const source = await listenNodeNet(checkServeOptions(options));
  return startServer(options, handler, source);
}
