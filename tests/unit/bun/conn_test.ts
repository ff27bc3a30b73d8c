/**
 * BunConn's writes over a stand-in for Bun's socket (runs in every
 * runtime): `writeNow` passes a range through without a copy or a view,
 * and a closed socket fails it.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BunConn, type BunSocket } from "../../../bun/conn.ts";

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
