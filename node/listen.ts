/**
 * Listening with a `node:net` server: the `node:net` adapter's half of
 * `serveNodeNet()`. Runs in Deno, Bun and Node.
 *
 * @module
 */

import net from "node:net";
import { NodeNetConn } from "./conn.ts";
import type {
  AcceptedConn,
  ConnectionSource,
  ListenOptions,
} from "../server/listener.ts";

/** Pending connections the kernel queues for a `node:net` server: 511. */
const NODE_NET_BACKLOG = 511;

/**
 * Listens with a `node:net` server (plain TCP).
 *
 * @param options where to listen
 * @returns the source, once it listens
 */
export async function listenNodeNet(
  options: ListenOptions,
): Promise<ConnectionSource> {
  if (options.cert !== undefined || options.key !== undefined) {
    throw new TypeError("serveNodeNet: TLS is not supported, use serve()");
  }
  let onConnection: ((conn: AcceptedConn) => void) | null = null;
  let onAcceptError: ((error: unknown) => void) | null = null;
  // What arrives before accept() is called, handed over then.
  let waiting: AcceptedConn[] = [];
  let earlyErrors: unknown[] = [];
  // Half-open: a client that ends its side after the request still gets
  // the response (NodeNetConn ends ours when the connection closes).
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const conn = new NodeNetConn(socket);
    if (onConnection === null) waiting.push(conn);
    else onConnection(conn);
  });
  // Not the server's "close" event: that waits for every connection.
  const stopped = Promise.withResolvers<void>();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(
      {
        port: options.port,
        host: options.hostname,
        backlog: NODE_NET_BACKLOG,
        reusePort: options.reusePort ?? false,
      },
      () => {
        server.off("error", reject);
        resolve();
      },
    );
  });
  server.on("error", (error) => {
    if (onAcceptError === null) earlyErrors.push(error);
    else onAcceptError(error);
  });
  const address = server.address() as net.AddressInfo;
  return {
    addr: { transport: "tcp", hostname: address.address, port: address.port },
    secure: false,
    accept(callback, errorCallback) {
      onConnection = callback;
      onAcceptError = errorCallback;
      const early = waiting;
      waiting = [];
      for (const conn of early) callback(conn);
      const errors = earlyErrors;
      earlyErrors = [];
      for (const error of errors) errorCallback(error);
      return stopped.promise;
    },
    close() {
      server.close();
      stopped.resolve();
    },
    ref() {
      server.ref();
    },
    unref() {
      server.unref();
    },
  };
}
