/**
 * The contract between a server and the adapter that listens for it: an
 * adapter (Deno's `Deno.listen` in `deno/listen.ts`, `node:net` in
 * `node/listen.ts`) hands every accepted connection to the server as a
 * {@linkcode AcceptedConn}.
 *
 * @module
 */

import type { ByteConn, NetAddr } from "../socket/transport.ts";

/** An accepted connection, with the peer's address. */
export interface AcceptedConn extends ByteConn {
  /** The client's address. */
  readonly remoteAddr: NetAddr;
}

/** A listening socket that hands over accepted connections. */
export interface ConnectionSource {
  /** The address listened on (with the real port when 0 was asked for). */
  readonly addr: NetAddr;
  /** Whether connections speak TLS. */
  readonly secure: boolean;
  /**
   * Hands every accepted connection to `onConnection` until
   * {@linkcode ConnectionSource.close}; call once.
   *
   * @param onConnection takes each accepted connection
   * @param onAcceptError told when accepting failed and goes on
   * @returns a promise that settles (never rejects) once accepting stopped
   */
  accept(
    onConnection: (conn: AcceptedConn) => void,
    onAcceptError: (error: unknown) => void,
  ): Promise<void>;
  /** Stops accepting; accepted connections are not touched. */
  close(): void;
  /** Keeps the process alive while listening (the default). */
  ref?(): void;
  /** Lets the process exit while still listening. */
  unref?(): void;
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
  /** Share the port with other processes (`SO_REUSEPORT`, Linux). */
  reusePort?: boolean;
}
