// Helpers for the hardening tests (Deno only): a server whose handler the
// test writes, with every server-side socket's close recorded; raw-TCP
// writes that tell a peer that stopped reading from one that is slow;
// ping frames that carry a sequence number.
import assert from "node:assert/strict";
import type { ServeOptions, Server } from "../../mod.ts";
import { type UpgradeOptions, upgradeWebSocket } from "../../mod.ts";
import type { WebSocketConnection } from "../../socket/websocket.ts";
import { startServer } from "./server_deno.ts";
import { withDeadline } from "../interop/peers/bounded.ts";
import { clientFrame } from "./raw_ws_client_deno.ts";

/** How long to wait for any one server-side event, in milliseconds. */
export const EVENT_DEADLINE = 15_000;

/**
 * A write the server has not taken within this many milliseconds means it
 * stopped reading. There is no event for "stopped", so this is the one
 * place these tests wait on time; it only ever decides how long to keep
 * trying, never what the right answer is.
 */
export const WRITE_STALL = 1_000;

/** What a server-side socket's "close" event said. */
export interface CloseReport {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** A server-side socket and its close. */
export interface Side {
  socket: WebSocketConnection;
  closed: Promise<CloseReport>;
}

/** A server on 127.0.0.1 port 0 that upgrades every request and hands the
 * socket to `onSocket`; the sockets are kept by request path. */
export class HardeningServer {
  readonly server: Server;
  readonly port: number;
  readonly sides: Map<string, Side> = new Map();
  #counter = 0;

  constructor(
    upgradeOptions: UpgradeOptions,
    onSocket: (socket: WebSocketConnection, path: string) => void = () => {},
    serveOptions: ServeOptions = {},
  ) {
    this.server = startServer((request) => {
      const path = new URL(request.url).pathname;
      const { socket, response } = upgradeWebSocket(request, upgradeOptions);
      const closed = new Promise<CloseReport>((resolve) => {
        socket.addEventListener("close", (event) =>
          resolve({
            code: event.code,
            reason: event.reason,
            wasClean: event.wasClean,
          }));
      });
      this.sides.set(path, { socket, closed });
      onSocket(socket, path);
      return response;
    }, serveOptions);
    this.port = this.server.addr.port;
  }

  /** A request path no other connection used. */
  uniquePath(name: string): string {
    this.#counter++;
    return `/${this.#counter}-${name}`;
  }

  /** The server-side socket of `path`. */
  side(path: string): Side {
    const side = this.sides.get(path);
    assert.ok(side, `no server-side socket for ${path}`);
    return side;
  }

  /** The close event of the socket that served `path`, bounded in time. */
  closeOf(path: string): Promise<CloseReport> {
    return withDeadline(
      this.side(path).closed,
      EVENT_DEADLINE,
      `the server-side close of ${path}`,
    );
  }

  shutdown(): Promise<void> {
    return this.server.shutdown();
  }
}

/** Writes every byte of `bytes` to `conn`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

/**
 * Starts writing `bytes`; resolves "written" when done, or "stalled" when
 * the peer took nothing for {@linkcode WRITE_STALL} ms. A stalled write goes
 * on: `pending` settles once it completes (or the connection fails).
 */
export async function writeOrStall(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<{ outcome: "written" | "stalled"; pending: Promise<void> }> {
  const pending = writeAll(conn, bytes);
  pending.catch(() => {}); // the caller awaits it, or the connection is gone
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<"stalled">((resolve) => {
    timer = setTimeout(() => resolve("stalled"), WRITE_STALL);
  });
  try {
    const outcome = await Promise.race([
      pending.then(() => "written" as const),
      stalled,
    ]);
    return { outcome, pending };
  } finally {
    clearTimeout(timer);
  }
}

/** A masked ping whose 125-byte payload starts with `sequence` (32 bits). */
export function numberedPing(sequence: number): Uint8Array {
  const payload = new Uint8Array(125);
  new DataView(payload.buffer).setUint32(0, sequence);
  return clientFrame(0x9, payload);
}

/** The sequence number a {@linkcode numberedPing} payload carries. */
export function sequenceOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset).getUint32(0);
}

/** `count` numbered pings from `first`, as one buffer. */
export function pingBatch(first: number, count: number): Uint8Array {
  const frameLength = numberedPing(0).length;
  const batch = new Uint8Array(frameLength * count);
  for (let index = 0; index < count; index++) {
    batch.set(numberedPing(first + index), index * frameLength);
  }
  return batch;
}

/** A promise with its resolve function. */
export function signal<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
} {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => resolve = done);
  return { promise, resolve };
}
