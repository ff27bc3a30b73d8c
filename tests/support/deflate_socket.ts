/**
 * Fixtures for the permessage-deflate socket tests
 * (tests/deflate_socket_*_test.ts): a socket that agreed the extension over
 * an in-memory connection, an event log that can be awaited, frames and
 * payloads as a compressing peer sends them, and the frames the socket
 * wrote.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  attachConnection,
  createPendingSocket,
  type WebSocketConnection,
} from "../../socket/websocket.ts";
import type { WebSocketOptions } from "../../socket/options.ts";
import { encodeFrame } from "../../frame/encoder.ts";
import { type Frame, Opcode, RSV1 } from "../../frame/types.ts";
import type { Role } from "../../protocol/types.ts";
import { decoder, encoder, FakeConn } from "./websocket.ts";
import type { PerMessageDeflateParams } from "../../deflate/negotiation.ts";
import { perMessageDeflate } from "../../deflate.ts";

/** What the socket agreed in these tests, unless told otherwise. */
export const AGREED = "permessage-deflate; server_no_context_takeover; " +
  "client_no_context_takeover";

/** No context takeover either way, 32 KiB windows: {@linkcode AGREED}. */
export const NO_CONTEXT_TAKEOVER: PerMessageDeflateParams = Object.freeze({
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
});

/** Context takeover both ways, 32 KiB windows. */
export const CONTEXT_TAKEOVER: PerMessageDeflateParams = Object.freeze({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
});

/** Every event of a socket as a short string, with a way to wait for more. */
export class EventLog {
  readonly entries: string[] = [];
  #waiters: Array<() => void> = [];

  constructor(socket: WebSocketConnection) {
    socket.addEventListener("open", () => this.#add("open"));
    socket.addEventListener("error", () => this.#add("error"));
    socket.addEventListener("message", (event) => {
      const data = event.data;
      this.#add(
        typeof data === "string"
          ? `text:${data.length > 20 ? `${data.length} chars` : data}`
          : `binary:${(data as ArrayBuffer).byteLength}`,
      );
    });
    socket.addEventListener(
      "ping",
      (event) => this.#add(`ping:${decoder.decode(event.data)}`),
    );
    socket.addEventListener("close", (event) => {
      this.#add(
        `close:${event.code}:${event.wasClean ? "clean" : "unclean"}`,
      );
    });
  }

  /** Resolves once at least `count` events were logged. */
  async waitFor(count: number): Promise<void> {
    while (this.entries.length < count) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #add(entry: string): void {
    this.entries.push(entry);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** An open socket that agreed permessage-deflate, over a fake connection. */
export function openDeflateSocket(
  threshold = 0,
  options: WebSocketOptions = {},
  role: Role = "server",
  params: PerMessageDeflateParams = NO_CONTEXT_TAKEOVER,
) {
  const socket = createPendingSocket(role, { pingInterval: 0, ...options });
  socket.binaryType = "arraybuffer";
  const log = new EventLog(socket);
  const conn = new FakeConn();
  const done = attachConnection(socket, conn, new Uint8Array(0), {
    protocol: "",
    extensions: AGREED,
    perMessageDeflate: {
      params,
      compressors: perMessageDeflate().compressors,
      threshold,
    },
  });
  return { socket, conn, log, done };
}

/** A data frame as a client sends it (masked), RSV1 set unless told. */
export function compressedFrame(
  opcode: Opcode,
  payload: Uint8Array,
  { fin = true, rsv1 = true, mask = true } = {},
): Uint8Array {
  return encodeFrame(opcode, payload, { fin, rsv1, mask });
}

/** The bytes of `data`, UTF-8 encoded when it is text. */
export function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/**
 * The payload a zlib-based peer sends for `data` after a sync flush: one
 * non-final stored block, then the header byte of the empty stored block
 * whose `00 00 ff ff` was stripped (RFC 7692 section 7.2.1). Built by hand,
 * so it does not depend on the deflate code under test.
 */
export function syncFlushedStoredBlock(data: string | Uint8Array): Uint8Array {
  const bytes = bytesOf(data);
  assert.ok(bytes.length <= 0xffff);
  const payload = new Uint8Array(5 + bytes.length + 1);
  payload[0] = 0x00; // BFINAL 0, BTYPE 00 (stored)
  payload[1] = bytes.length & 0xff;
  payload[2] = bytes.length >>> 8;
  payload[3] = ~bytes.length & 0xff;
  payload[4] = (~bytes.length >>> 8) & 0xff;
  payload.set(bytes, 5);
  payload[5 + bytes.length] = 0x00; // the empty block's header
  return payload;
}

/** Text that deflates well. */
export function chatLog(bytes: number): string {
  let text = "";
  for (let i = 0; text.length < bytes; i++) {
    text += `{"user":"user${i % 7}","text":"message number ${i}"},`;
  }
  return text.slice(0, bytes);
}

/** Bytes that do not deflate (xorshift, fixed seed). */
export function noise(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** Every frame the socket wrote, RSV1 allowed. */
export function writtenFrames(conn: FakeConn, role: Role = "server"): Frame[] {
  return conn.frames(role, RSV1);
}

/** The data frames the socket wrote (pongs and close left out). */
export function dataFrames(conn: FakeConn, role: Role = "server"): Frame[] {
  return writtenFrames(conn, role).filter((frame) =>
    frame.opcode === Opcode.Text || frame.opcode === Opcode.Binary ||
    frame.opcode === Opcode.Continuation
  );
}

/** The close frame the socket wrote; fails when there is none. */
export function closeFrameOf(conn: FakeConn, role: Role = "server"): Frame {
  const close = writtenFrames(conn, role).find((f) =>
    f.opcode === Opcode.Close
  );
  assert.ok(close, "a close frame was written");
  return close;
}
