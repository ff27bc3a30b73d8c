/**
 * Where a server's connections come from: a `Deno.listen` (or
 * `Deno.listenTls`) listener, or a `node:net` server. `server.ts` serves
 * whatever either accepts the same way.
 *
 * Why two: `Deno.Conn` asks for every read with a promise of its own, and
 * with thousands of busy connections Deno serves some of those reads over
 * and over while others wait for seconds; `node:net` runs on a native
 * stream that pushes data to JavaScript and serves every connection in turn
 * (bench/tcp_fairness: of 9,000 busy plain-TCP echo connections, 999 were
 * served in a 4 s window on `Deno.Conn`, 8,747 on `node:net` under Deno,
 * all 9,000 under Bun). At a hundred connections `Deno.Conn` costs less
 * CPU per message, so it stays the default.
 *
 * @module
 */

import net from "node:net";
import { NodeNetConn } from "../node/conn.ts";
import type { ByteConn } from "../socket/options.ts";

/** An accepted connection, with the peer's address. */
export interface AcceptedConn extends ByteConn {
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
}

/** A listening socket that hands over accepted connections. */
export interface ConnectionSource {
  /** The address listened on (with the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /** Whether connections speak TLS. */
  readonly secure: boolean;
  /**
   * Hands every accepted connection to `onConnection` until
   * {@linkcode ConnectionSource.close}; call once.
   *
   * @param onConnection takes each accepted connection
   * @returns a promise that settles (never rejects) once accepting stopped
   */
  accept(onConnection: (conn: AcceptedConn) => void): Promise<void>;
  /** Stops accepting; accepted connections are not touched. */
  close(): void;
}

/** Where to listen. */
export interface ListenOptions {
  /** The port; 0 for any free one. */
  port: number;
  /** The address. */
  hostname: string;
  /** PEM certificate chain and key: TLS (the Deno listener only). */
  cert?: string;
  /** PEM private key for `cert`. */
  key?: string;
}

function isAcceptStopped(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

/**
 * Listens with `Deno.listen`, or `Deno.listenTls` when a certificate is
 * given.
 *
 * @param options where to listen, and the certificate for TLS
 * @returns the listening source
 */
export function listenDeno(options: ListenOptions): ConnectionSource {
  const { port, hostname, cert, key } = options;
  const secure = cert !== undefined && key !== undefined;
  const listener = secure
    ? Deno.listenTls({ port, hostname, cert, key })
    : Deno.listen({ port, hostname });
  let closed = false;
  return {
    addr: listener.addr as Deno.NetAddr,
    secure,
    async accept(onConnection) {
      while (!closed) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
        } catch (error) {
          if (closed || isAcceptStopped(error)) return;
          console.error("rfc6455 serve: accept failed:", error);
          continue;
        }
        onConnection(conn as AcceptedConn);
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
  };
}

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
  let waiting: AcceptedConn[] = [];
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
      { port: options.port, host: options.hostname, backlog: NODE_NET_BACKLOG },
      () => {
        server.off("error", reject);
        resolve();
      },
    );
  });
  server.on("error", (error) => {
    console.error("rfc6455 serve: accept failed:", error);
  });
  const address = server.address() as net.AddressInfo;
  return {
    addr: { transport: "tcp", hostname: address.address, port: address.port },
    secure: false,
    accept(callback) {
      onConnection = callback;
      const early = waiting;
      waiting = [];
      for (const conn of early) callback(conn);
      return stopped.promise;
    },
    close() {
      server.close();
      stopped.resolve();
    },
  };
}
