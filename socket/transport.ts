/**
 * What a socket runs over: a byte stream with `read`, `write` and `close`
 * ({@linkcode ByteConn}), and the address of either end
 * ({@linkcode NetAddr}). `Deno.Conn`, `Deno.TlsConn` and this library's
 * `node:net` wrapper satisfy it; so can any other transport.
 *
 * @module
 */

/** The byte stream a socket runs over; `Deno.Conn` and `Deno.TlsConn` satisfy it. */
export interface ByteConn {
  /**
   * Reads into `buffer`.
   *
   * @param buffer where to put the bytes
   * @returns how many bytes were read, or null at end of stream
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes some or all of `data`. A socket never changes the bytes of a
   * write afterwards, so a transport may keep them (in a queue, a recorder)
   * without copying. (Only over this package's own transports, which are
   * done with the bytes once the write settles, does it reuse the memory.)
   * The same bytes may go to several connections: a frame published to many
   * sockets is encoded once.
   *
   * @param data the bytes to write
   * @returns how many bytes were written
   */
  write(data: Uint8Array): Promise<number>;
  /** Closes the stream; pending reads and writes end. */
  close(): void;
  /**
   * Ends the sending side only (TCP FIN) while reading goes on; optional.
   * With it, a connection the socket failed is closed without a TCP reset
   * (see `DEFAULTS.limits.lingerTimeout`).
   */
  closeWrite?(): Promise<void>;
}

/** Connections whose `write` is done with its bytes once it settles. */
const poolSafeConns = new WeakSet<ByteConn>();

/**
 * Records that `conn.write` no longer refers to its bytes once its promise
 * settles (they were copied, or taken by the kernel), so a socket over it
 * may reuse a frame's memory for another frame after each write. Only for
 * transports verified to behave so: `Deno.Conn` and `Deno.TlsConn` (the
 * Deno adapter), `NodeNetConn`, and wrappers that pass writes through to
 * one of them. A socket over any other connection gives every frame a
 * buffer of its own. Internal, for this package's adapters.
 *
 * @param conn the connection
 */
export function markPoolSafe(conn: ByteConn): void {
  poolSafeConns.add(conn);
}

/**
 * Whether {@linkcode markPoolSafe} was called for `conn`.
 *
 * @param conn the connection
 * @returns true when frame memory may be reused after its writes settle
 */
export function isPoolSafe(conn: ByteConn): boolean {
  return poolSafeConns.has(conn);
}

/** A TCP address, shaped like `Deno.NetAddr`. */
export interface NetAddr {
  /** Always "tcp". */
  transport: "tcp";
  /** The IP address or host name. */
  hostname: string;
  /** The port. */
  port: number;
}

/**
 * Writes every byte of `bytes`, resuming after short writes.
 *
 * @param conn the connection
 * @param bytes what to write
 */
export async function writeAll(
  conn: ByteConn,
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}
