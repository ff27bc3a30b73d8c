/**
 * Dialing with `node:net` and `node:tls`: the `node:net` adapter's half of
 * `connect()`, for Bun and Node (and Deno).
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import type { DialTarget } from "../client/connect.ts";
import type { ByteConn } from "../socket/transport.ts";
import { NodeNetConn } from "./conn.ts";

/**
 * TCP, then TLS for `wss://` (SNI set to the host name, the server's
 * certificate checked against the default roots plus `caCerts`); resolves
 * once the TLS handshake is complete, so that a certificate problem is
 * reported as such.
 *
 * @param target where to dial, and the handshake's signal
 * @returns the connection
 */
export function dialNodeNet(target: DialTarget): Promise<ByteConn> {
  const { hostname, port, caCerts, signal } = target;
  signal.throwIfAborted();
  return new Promise<ByteConn>((resolve, reject) => {
    // Plain TCP is half-open, as on the server side: the peer's close frame
    // may still be read after it ended its side.
    const socket = target.secure
      ? tls.connect({
        host: hostname,
        port,
        servername: net.isIP(hostname) === 0 ? hostname : undefined,
        ca: caCerts === undefined
          ? undefined
          : [...tls.rootCertificates, ...caCerts],
      })
      : net.connect({ host: hostname, port, allowHalfOpen: true });
    const connected = target.secure ? "secureConnect" : "connect";
    const settle = () => {
      signal.removeEventListener("abort", onAbort);
      socket.off(connected, onConnect);
      socket.off("error", onError);
    };
    const onConnect = () => {
      settle();
      const conn = new NodeNetConn(socket);
      target.track(conn);
      resolve(conn);
    };
    const onError = (error: Error) => {
      settle();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => {
      settle();
      socket.destroy();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once(connected, onConnect);
    socket.once("error", onError);
  });
}
