/**
 * The adaptive read buffer of a socket follows the frames it receives: a
 * frame larger than the buffer grows it past `largeReadBufferFrom` even
 * when the process's budget for such buffers is spent.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../../../frame/types.ts";
import { DEFAULTS } from "../../../defaults.ts";
import { largeReadBuffersHeld, SocketReader } from "../../../socket/reader.ts";
import type { ByteConn } from "../../../socket/transport.ts";
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

/**
 * Readers whose buffers a large frame grew to the maximum, until the
 * budget of large read buffers is spent; each keeps a read pending until
 * the returned function closes them all.
 */
async function spendLargeReadBudget(): Promise<() => void> {
  const max = DEFAULTS.limits.maxReadBufferSize;
  const readers: SocketReader[] = [];
  while (
    largeReadBuffersHeld() + max <= DEFAULTS.limits.largeReadBuffersBudget
  ) {
    const pending = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<number | null>();
    const conn: ByteConn = {
      read(buffer: Uint8Array): Promise<number | null> {
        if (buffer.length < max) return Promise.resolve(buffer.length);
        pending.resolve();
        return closed.promise;
      },
      write: (data: Uint8Array) => Promise.resolve(data.length),
      close: () => closed.resolve(null),
    };
    const reader = new SocketReader(conn, 0, {
      readerData: () => {},
      readerEnd: () => {},
      readerError: () => {},
      readerPause: () => null,
      readerClosed: () => false,
      readerFrameBytesMissing: () => 1 << 20,
    });
    reader.start();
    readers.push(reader);
    await pending.promise;
  }
  return () => {
    for (const reader of readers) reader.close();
  };
}

describe("the adaptive read buffer of a socket", () => {
  test("grows past largeReadBufferFrom for a large frame when the budget is spent", async () => {
    const release = await spendLargeReadBudget();
    try {
      const { socket, conn, sizes, received } = socketRecordingReads(1);
      conn.push(maskedFrame(Opcode.Binary, new Uint8Array(200_000)));
      await received;
      socket.close();
      assert.equal(Math.max(...sizes), DEFAULTS.limits.maxReadBufferSize);
    } finally {
      release();
    }
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
