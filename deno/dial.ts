/**
 * Dialing with Deno's TCP and TLS (`Deno.connect`, `Deno.startTls`): the
 * Deno adapter's half of `connect()`.
 *
 * @module
 */

import type { DialTarget } from "../client/connect.ts";
import { type ByteConn, markPoolSafe } from "../socket/transport.ts";

/**
 * TCP, then TLS for `wss://`; the TLS handshake completes here so that a
 * certificate problem is reported as such.
 *
 * @param target where to dial, and the handshake's signal
 * @returns the connection
 */
export async function dialDeno(target: DialTarget): Promise<ByteConn> {
  const { hostname, port, caCerts, signal } = target;
  const tcp = await Deno.connect({ hostname, port, signal });
  target.track(tcp);
  // Deno's write op is done with the bytes once it resolves.
  if (!target.secure) {
    markPoolSafe(tcp);
    return tcp;
  }
  const tls = await Deno.startTls(
    tcp,
    caCerts === undefined ? { hostname } : { hostname, caCerts: [...caCerts] },
  );
  target.track(tls);
  await tls.handshake();
  markPoolSafe(tls);
  return tls;
}
