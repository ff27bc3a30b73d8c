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
   * Writes some or all of `data`. Once the promise settles, `data`'s memory
   * may be reused for another frame: a transport that keeps the bytes
   * longer (a queue, a recorder) must copy them.
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
