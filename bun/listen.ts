/**
 * Listening with Bun's own TCP (`Bun.listen`, TLS with a certificate): the
 * Bun adapter's half of `serveBun()`.
 *
 * @module
 */

import type {
  AcceptedConn,
  ConnectionSource,
  ListenOptions,
} from "../server/listener.ts";
import { BunConn, type BunSocket } from "./conn.ts";

/** The socket handlers `Bun.listen` calls. */
interface BunHandlers {
  /** What `data` receives: plain Uint8Arrays, not Buffers. */
  binaryType: "uint8array";
  open(socket: BunSocket & { data: BunConn | undefined }): void;
  data(socket: { data: BunConn | undefined }, data: Uint8Array): void;
  drain(socket: { data: BunConn | undefined }): void;
  end(socket: { data: BunConn | undefined }): void;
  close(socket: { data: BunConn | undefined }): void;
  error(socket: { data: BunConn | undefined }, error: Error): void;
}

/** The part of `Bun.listen`'s listener this adapter uses. */
interface BunListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
  ref(): void;
  unref(): void;
}

/** The part of the `Bun` global this adapter uses. */
interface BunRuntime {
  listen(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string };
    socket: BunHandlers;
  }): BunListener;
}

/**
 * Listens with `Bun.listen`.
 *
 * @param options where to listen, and the certificate for TLS
 * @returns the listening source
 * @throws {TypeError} outside Bun
 */
export function listenBun(options: ListenOptions): ConnectionSource {
  const runtime = (globalThis as { Bun?: BunRuntime }).Bun;
  if (runtime === undefined) {
    throw new TypeError(
      "serveBun: Bun is not the runtime (use serve or serveNodeNet)",
    );
  }
  const { port, hostname, cert, key } = options;
  let onConnection: ((conn: AcceptedConn) => void) | null = null;
  let waiting: AcceptedConn[] = [];
  let stopped = false;
  let resolveStopped = () => {};
  const stoppedPromise = new Promise<void>((resolve) =>
    resolveStopped = resolve
  );
  const listener = runtime.listen({
    hostname,
    port,
    tls: cert !== undefined && key !== undefined ? { cert, key } : undefined,
    socket: {
      binaryType: "uint8array",
      open(socket) {
        const conn = new BunConn(socket);
        socket.data = conn;
        if (onConnection === null) waiting.push(conn);
        else onConnection(conn);
      },
      data(socket, data) {
        socket.data?.pushed(data);
      },
      drain(socket) {
        socket.data?.drain();
      },
      end(socket) {
        socket.data?.ended();
      },
      close(socket) {
        socket.data?.ended();
      },
      error(socket, error) {
        socket.data?.failed(error);
      },
    },
  });
  return {
    addr: {
      transport: "tcp",
      hostname: listener.hostname,
      port: listener.port,
    },
    secure: cert !== undefined && key !== undefined,
    accept(callback) {
      onConnection = callback;
      const early = waiting;
      waiting = [];
      for (const conn of early) callback(conn);
      return stoppedPromise;
    },
    close() {
      if (stopped) return;
      stopped = true;
      listener.stop(false);
      resolveStopped();
    },
    ref() {
      listener.ref();
    },
    unref() {
      listener.unref();
    },
  };
}
