/**
 * Listening with `Deno.listen` (or `Deno.listenTls` given a certificate):
 * the Deno adapter's half of `serve()`.
 *
 * @module
 */

import type { ConnectionSource, ListenOptions } from "../server/listener.ts";
import type { NetAddr } from "../socket/transport.ts";
import { FairConn } from "./fair_reads.ts";

function isAcceptStopped(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

/**
 * Listens with `Deno.listen`, or `Deno.listenTls` when a certificate is
 * given. Accepted connections read through the fair schedule of
 * `fair_reads.ts`.
 *
 * @param options where to listen, and the certificate for TLS
 * @returns the listening source
 */
export function listenDeno(options: ListenOptions): ConnectionSource {
  const { port, hostname, cert, key } = options;
  const reusePort = options.reusePort ?? false;
  const secure = cert !== undefined && key !== undefined;
  const listener = secure
    ? Deno.listenTls({ port, hostname, cert, key, reusePort })
    : Deno.listen({ port, hostname, reusePort });
  let closed = false;
  return {
    addr: listener.addr as NetAddr,
    secure,
    async accept(onConnection, onAcceptError) {
      while (!closed) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
        } catch (error) {
          if (closed || isAcceptStopped(error)) return;
          onAcceptError(error);
          continue;
        }
        // Reads scheduled so that thousands of busy connections are all
        // served (fair_reads.ts).
        onConnection(new FairConn(conn));
      }
    },
    close() {
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
    ref() {
      listener.ref();
    },
    unref() {
      listener.unref();
    },
  };
}
