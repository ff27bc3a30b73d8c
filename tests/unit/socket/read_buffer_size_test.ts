/**
 * The adaptive read buffer of a socket follows the frames it receives: a
 * frame larger than the buffer sizes the next read for what it still needs,
 * while small frames grow it step by step.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../../../frame/types.ts";
import { DEFAULTS } from "../../../defaults.ts";
import { maskedFrame, openSocket } from "../../support/websocket.ts";
import { concat } from "../../support/bytes.ts";

/** A socket over a fake connection that records the size of every read
 * buffer after the first (already pending, of the initial size), and a
 * promise of its `count`-th message. */
function socketRecordingReads(count: number) {
  const { socket, conn } = openSocket();
  const sizes: number[] = [];
  const read = conn.read.bind(conn);
  conn.read = (buffer: Uint8Array) => {
    sizes.push(buffer.length);
    return read(buffer);
  };
  let messages = 0;
  const received = Promise.withResolvers<void>();
  socket.addEventListener("message", () => {
    if (++messages === count) received.resolve();
  });
  return { socket, conn, sizes, received: received.promise };
}

describe("the adaptive read buffer of a socket", () => {
  test("grows at once to fit a frame larger than it", async () => {
    const { socket, conn, sizes, received } = socketRecordingReads(1);
    conn.push(maskedFrame(Opcode.Binary, new Uint8Array(60_000)));
    await received;
    socket.close();
    assert.equal(sizes[0], DEFAULTS.limits.maxReadBufferSize);
  });

  test("doubles when small frames fill it", async () => {
    const frames = Array.from(
      { length: 20 },
      () => maskedFrame(Opcode.Binary, new Uint8Array(100)),
    );
    const { socket, conn, sizes, received } = socketRecordingReads(20);
    conn.push(concat(...frames));
    await received;
    socket.close();
    assert.equal(sizes[0], DEFAULTS.limits.initialReadBufferSize * 2);
  });
});
