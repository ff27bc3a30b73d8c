/**
 * `serve()` on Deno's own TCP and TLS (`Deno.listen`, `Deno.listenTls`):
 * the server behind the package's root and `./server` entries.
 *
 * @module
 */

import { listenDeno } from "./listen.ts";
import {
  checkServeOptions,
  serveArguments,
  type ServeHandler,
  type ServeOptions,
  type Server,
  startServer,
} from "../server/serve.ts";

/**
 * Listen and serve HTTP/1.1 (and WebSocket upgrades through
 * `upgradeWebSocket`), like `Deno.serve`, in its three forms: `(handler)`,
 * `(options, handler)` and `({ ...options, handler })`. With `cert` and
 * `key` the server speaks TLS (https and wss).
 *
 * @example
 * ```ts ignore
 * const server = serve({ port: 0, onListen() {} }, () => new Response("hi"));
 * await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * await server.shutdown();
 * ```
 *
 * @param handler the request handler
 * @returns the running server
 */
export function serve(handler: ServeHandler): Server;
/**
 * Listen with `options` and serve with `options.handler`.
 *
 * @param options where to listen, TLS, timeouts, limits, and the handler
 * @returns the running server
 */
export function serve(
  options: ServeOptions & { handler: ServeHandler },
): Server;
/**
 * Listen with `options` and serve with `handler`.
 *
 * @param options where to listen, TLS, timeouts and limits
 * @param handler the request handler
 * @returns the running server
 */
export function serve(options: ServeOptions, handler: ServeHandler): Server;
export function serve(
  optionsOrHandler: ServeOptions | ServeHandler,
  maybeHandler?: ServeHandler,
): Server {
  const { options, handler } = serveArguments(
    optionsOrHandler,
    maybeHandler,
    "serve",
  );
  const source = listenDeno(checkServeOptions(options));
  return startServer(options, handler, source);
}
