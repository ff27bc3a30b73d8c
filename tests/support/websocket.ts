/**
 * Test helpers for the socket: an in-memory connection the test drives as
 * the peer, client frame builders, and an open socket over such a
 * connection.
 *
 * @module
 */

import {
  attachConnection,
  createPendingSocket,
  type WebSocketConnection,
} from "../../socket/websocket.ts";
import type { ByteConn } from "../../socket/transport.ts";
import type { WebSocketOptions } from "../../socket/options.ts";
import { type Frame, Opcode } from "../../frame/types.ts";
import { FrameDecoder } from "../../frame/decoder.ts";
import { encodeClosePayload } from "../../frame/close_payload.ts";
import type { Role } from "../../protocol/types.ts";
import { concat, maskedFrame } from "./bytes.ts";

export { decoder, encoder, maskedFrame } from "./bytes.ts";

/** An in-memory connection: the test plays the peer. */
export class FakeConn implements ByteConn {
  /** One entry per write call, as the socket passed it (cut to what was taken). */
  readonly writes: Uint8Array[] = [];
  closed = false;
  reads = 0;
  /** Most bytes one write takes, to provoke short writes. */
  maxWrite = Infinity;
  #incoming: Uint8Array[] = [];
  #ended = false;
  #read: {
    buffer: Uint8Array;
    resolve(n: number | null): void;
    reject(e: Error): void;
  } | null = null;
  #gate: Promise<void> | null = null;
  #openGate: () => void = () => {};
  #changed = Promise.withResolvers<void>();

  /** The peer sends bytes. */
  push(...chunks: Uint8Array[]): void {
    this.#incoming.push(...chunks);
    this.#serveRead();
  }
  /** The peer closes its side. */
  end(): void {
    this.#ended = true;
    this.#serveRead();
  }
  /** The peer stops reading: writes wait until release(). */
  hold(): void {
    this.#gate = new Promise((resolve) => this.#openGate = resolve);
  }
  release(): void {
    this.#gate = null;
    this.#openGate();
  }
  read(buffer: Uint8Array): Promise<number | null> {
    this.reads++;
    if (this.closed) return Promise.reject(new Error("closed"));
    return new Promise((resolve, reject) => {
      this.#read = { buffer, resolve, reject };
      this.#serveRead();
    });
  }
  async write(data: Uint8Array): Promise<number> {
    if (this.#gate !== null) await this.#gate;
    if (this.closed) throw new Error("closed");
    const count = Math.min(data.length, this.maxWrite);
    this.writes.push(data.slice(0, count));
    this.#notify();
    return count;
  }
  close(): void {
    if (this.closed) throw new Error("already closed");
    this.closed = true;
    this.#read?.reject(new Error("closed"));
    this.#read = null;
    this.#openGate();
    this.#notify();
  }
  /** Everything written so far, joined. */
  get written(): Uint8Array {
    return concat(...this.writes);
  }
  /** The frames written so far (by `role`; RSV bits as the decoder allows). */
  frames(role: Role = "server", allowedReservedBits = 0): Frame[] {
    const frames: Frame[] = [];
    const frameDecoder = new FrameDecoder({
      expectMasked: role === "client",
      allowedReservedBits,
    });
    frameDecoder.push(this.written);
    for (let frame = frameDecoder.next(); frame; frame = frameDecoder.next()) {
      frames.push(frame);
    }
    return frames;
  }
  /** Waits, event by event, until `condition` holds. */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await this.#changed.promise;
  }
  #notify(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  }
  #serveRead(): void {
    const read = this.#read;
    if (read === null) return;
    const chunk = this.#incoming.shift();
    if (chunk !== undefined) {
      const count = Math.min(chunk.length, read.buffer.length);
      read.buffer.set(chunk.subarray(0, count));
      if (count < chunk.length) this.#incoming.unshift(chunk.subarray(count));
      this.#read = null;
      read.resolve(count);
    } else if (this.#ended) {
      this.#read = null;
      read.resolve(null);
    }
  }
}

export const text = (data: string, fin = true) =>
  maskedFrame(Opcode.Text, data, fin);
export const closeFrame = (code: number, reason = "") =>
  maskedFrame(Opcode.Close, encodeClosePayload(code, reason));
export const closeCodeOf = (frame: Frame) =>
  (frame.payload[0] << 8) | frame.payload[1];

/**
 * Resolves once the socket processed everything pushed so far: pushes a
 * ping and waits for its pong (only while the socket is open).
 */
export async function barrier(conn: FakeConn): Promise<void> {
  const pongs = () =>
    conn.frames().filter((frame) => frame.opcode === Opcode.Pong).length;
  const before = pongs();
  conn.push(maskedFrame(Opcode.Ping, "barrier"));
  await conn.until(() => pongs() > before);
}

/** Resolves with the next event of `type` on `target`. */
export function nextEvent<E extends Event = Event>(
  target: EventTarget,
  type: string,
): Promise<E> {
  return new Promise((resolve) =>
    target.addEventListener(type, (event) => resolve(event as E), {
      once: true,
    })
  );
}

/** Records every event as a short string. */
export function record(socket: WebSocketConnection): string[] {
  const log: string[] = [];
  socket.addEventListener("open", () => log.push("open"));
  socket.addEventListener("error", () => log.push("error"));
  socket.addEventListener("message", (event) => {
    log.push(
      `message:${typeof event.data === "string" ? event.data : "binary"}`,
    );
  });
  socket.addEventListener("close", (event) => {
    log.push(
      `close:${event.code}:${event.reason}:${
        event.wasClean ? "clean" : "unclean"
      }`,
    );
  });
  return log;
}

/** An open socket over a fake connection; pings off unless asked for. */
export function openSocket(
  options: WebSocketOptions = {},
  role: Role = "server",
  leftover = new Uint8Array(0),
) {
  // No keepalive unless the test asks for one (in either unit).
  const keepalive = options.idleTimeout === undefined
    ? { pingInterval: 0 }
    : {};
  const socket = createPendingSocket(role, { ...keepalive, ...options });
  const log = record(socket);
  const conn = new FakeConn();
  const done = attachConnection(socket, conn, leftover, {
    protocol: "chat",
    extensions: "",
  });
  return { socket, conn, log, done };
}
