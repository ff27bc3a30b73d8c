import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SocketReader } from "../socket_reader.ts";
import {
  type ByteConn,
  DEFAULT_READ_BUFFER_SIZE,
  INITIAL_READ_BUFFER_SIZE,
} from "../websocket_options.ts";

/**
 * A connection that answers reads from a script of chunk sizes, recording
 * the size of every buffer it was handed, then ends.
 */
function scriptedConn(sizes: number[]): { conn: ByteConn; seen: number[] } {
  const seen: number[] = [];
  let next = 0;
  const conn: ByteConn = {
    read(buffer: Uint8Array): Promise<number | null> {
      seen.push(buffer.length);
      if (next >= sizes.length) return Promise.resolve(null);
      const count = Math.min(sizes[next++], buffer.length);
      buffer.fill(7, 0, count);
      return Promise.resolve(count);
    },
    write: (data: Uint8Array) => Promise.resolve(data.length),
    close: () => {},
  };
  return { conn, seen };
}

function readAll(sizes: number[], fixedSize = 0): Promise<{
  seen: number[];
  received: number;
}> {
  const { conn, seen } = scriptedConn(sizes);
  let received = 0;
  return new Promise((resolve) => {
    const reader = new SocketReader(conn, fixedSize, {
      data: (chunk) => received += chunk.length,
      end: () => resolve({ seen, received }),
      error: (error) => {
        throw error;
      },
      pause: () => null,
      closed: () => false,
    });
    reader.start();
  });
}

describe("the read buffer", () => {
  test("starts small, doubles while reads fill it, stops at the maximum", async () => {
    const { seen, received } = await readAll(Array(8).fill(1 << 20));
    const start = INITIAL_READ_BUFFER_SIZE;
    assert.deepEqual(seen.slice(0, 7), [
      start,
      start * 2,
      start * 4,
      start * 8,
      DEFAULT_READ_BUFFER_SIZE,
      DEFAULT_READ_BUFFER_SIZE,
      DEFAULT_READ_BUFFER_SIZE,
    ]);
    assert.equal(
      received,
      start + start * 2 + start * 4 + start * 8 + 4 * DEFAULT_READ_BUFFER_SIZE,
    );
  });

  test("halves only after a run of small reads", async () => {
    // Grow to 16 KiB, then 7 small reads keep it, the 8th halves it.
    const fill = [4096, 8192];
    const { seen } = await readAll([...fill, ...Array(9).fill(10)]);
    assert.equal(seen[2], 16 * 1024);
    assert.equal(seen[9], 16 * 1024);
    assert.equal(seen[10], 8 * 1024);
  });

  test("a fixed size given as an option never changes", async () => {
    const { seen } = await readAll([100, 100, 100], 100);
    assert.deepEqual(seen, [100, 100, 100, 100]);
  });
});
