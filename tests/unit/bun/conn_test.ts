/**
 * BunConn over a stand-in for Bun's socket (runs in every runtime):
 * `writeNow` passes a range through without a copy or a view, and a closed
 * socket fails it; a chunk pushed while the socket's reader waits reaches
 * it inside the push, and the socket keeps a copy of what it still needs.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { BunConn, type BunSocket } from "../../../bun/conn.ts";
import {
  attachConnection,
  createPendingSocket,
} from "../../../socket/websocket.ts";

/** A socket that takes at most `room` bytes per write. */
function standIn(room: number) {
  const calls: Array<{ data: Uint8Array; offset?: number; length?: number }> =
    [];
  let closed = false;
  const socket: BunSocket = {
    remoteAddress: "127.0.0.1",
    write(data, byteOffset, byteLength) {
      calls.push({ data, offset: byteOffset, length: byteLength });
      if (closed) return -1;
      const offered = byteLength ?? data.length - (byteOffset ?? 0);
      return Math.min(room, offered);
    },
    pause() {},
    resume() {},
    end() {},
  };
  return { socket, calls, close: () => closed = true };
}

describe("BunConn writes", () => {
  test("writeNow hands Bun the range as it lies and reports what it took", () => {
    const { socket, calls } = standIn(3);
    const conn = new BunConn(socket);
    const bytes = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(conn.writeNow(bytes, 2, 5), 3);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].data, bytes, "the same array, no view");
    assert.equal(calls[0].offset, 2);
    assert.equal(calls[0].length, 5);
  });

  test("writeNow throws once the socket is closed, or the conn", () => {
    const stand = standIn(10);
    const conn = new BunConn(stand.socket);
    stand.close();
    assert.throws(() => conn.writeNow(new Uint8Array(4), 0, 4), /closed/);
    const other = new BunConn(standIn(10).socket);
    other.close();
    assert.throws(() => other.writeNow(new Uint8Array(4), 0, 4), /closed/);
  });
});

/** A masked binary client frame carrying `payload` (under 126 bytes). */
function clientFrame(payload: Uint8Array): Uint8Array {
  const mask = [9, 8, 7, 6];
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x82;
  frame[1] = 0x80 | payload.length;
  frame.set(mask, 2);
  for (let index = 0; index < payload.length; index++) {
    frame[6 + index] = payload[index] ^ mask[index % 4];
  }
  return frame;
}

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe("BunConn reads", () => {
  test("a chunk pushed while the reader waits is taken inside the push", async () => {
    const conn = new BunConn(standIn(1024).socket);
    const taken: Uint8Array[] = [];
    conn.readDirect((chunk) => {
      taken.push(chunk);
      return true;
    });
    const waiting = conn.readChunk(1024);
    const chunk = new Uint8Array([1, 2, 3]);
    conn.pushed(chunk);
    assert.equal(taken.length, 1, "taken before pushed() returned");
    assert.equal(taken[0], chunk, "the pushed array itself, not a copy");
    conn.close();
    await assert.rejects(waiting, /closed/);
  });

  test("a frame split across pushes whose memory is reused arrives whole", async () => {
    const conn = new BunConn(standIn(1 << 20).socket);
    const socket = createPendingSocket("server");
    socket.binaryType = "arraybuffer";
    const messages: Uint8Array[] = [];
    socket.onmessage = (event: MessageEvent) => {
      messages.push(new Uint8Array(event.data as ArrayBuffer));
    };
    const closed = attachConnection(socket, conn, new Uint8Array(0), {
      protocol: "",
      extensions: "",
    });
    await nextMacrotask();
    const payload = new Uint8Array(100).map((_, index) => index);
    const frame = clientFrame(payload);
    // One buffer for every push, overwritten after each, as a transport
    // that reuses its memory would.
    const shared = new Uint8Array(frame.length);
    for (const [start, end] of [[0, 1], [1, 40], [40, frame.length]]) {
      shared.set(frame.subarray(start, end));
      conn.pushed(shared.subarray(0, end - start));
      shared.fill(0xee);
      await nextMacrotask();
    }
    assert.equal(messages.length, 1);
    assert.deepEqual(messages[0], payload);
    socket.close();
    conn.ended();
    await closed;
  });
});
