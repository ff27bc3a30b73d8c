/**
 * `serveBun()`: the same server as `serve()`, on Bun's own TCP.
 *
 * @module
 */

import { listenBun } from "./listen.ts";
import {
  checkServeOptions,
  serveArguments,
  type ServeHandler,
  type ServeOptions,
  type Server,
  startServer,
} from "../server/serve.ts";

/**
 * Like `serve` (the same three forms), on Bun's own TCP sockets
 * (`Bun.listen`) instead of `Deno.listen`, with TLS when `cert` and `key`
 * are given. Bun only.
 *
 * @example
 * ```ts ignore
 * const server = serveBun({ port: 0 }, (request) => {
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * });
 * ```
 *
 * @param optionsOrHandler the options (with `handler` for the one-argument
 * form) or the handler
 * @param maybeHandler the request handler, after the options
 * @returns the running server
 * @throws {TypeError} outside Bun, or without a handler
 */
export function serveBun(
  optionsOrHandler: ServeOptions | ServeHandler,
  maybeHandler?: ServeHandler,
): Server {
  const { options, handler } = serveArguments(
    optionsOrHandler,
    maybeHandler,
    "serveBun",
  );
  const source = listenBun(checkServeOptions(options));
  return startServer(options, handler, source);
}
