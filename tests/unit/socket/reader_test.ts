import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SocketReader } from "../../../socket/reader.ts";
import { PushedReads } from "../../../socket/pushed_reads.ts";
import type { ByteConn } from "../../../socket/transport.ts";
import { DEFAULTS } from "../../../defaults.ts";

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
      readerData: (chunk) => received += chunk.length,
      readerEnd: () => resolve({ seen, received }),
      readerError: (error) => {
        throw error;
      },
      readerPause: () => null,
      readerClosed: () => false,
    });
    reader.start();
  });
}

describe("the read buffer", () => {
  test("starts small, doubles while reads fill it, stops at the maximum", async () => {
    const { seen, received } = await readAll(Array(12).fill(1 << 20));
    const expected: number[] = [];
    for (
      let size = DEFAULTS.limits.initialReadBufferSize;
      expected.length < 12;
      size *= 2
    ) {
      expected.push(Math.min(size, DEFAULTS.limits.maxReadBufferSize));
    }
    assert.ok(
      expected[0] < DEFAULTS.limits.maxReadBufferSize / 8,
      "several doublings",
    );
    assert.deepEqual(seen.slice(0, 12), expected);
    assert.equal(received, expected.reduce((sum, size) => sum + size, 0));
  });

  test("halves only after a run of small reads", async () => {
    // Grow to 4x the start, then 7 small reads keep it, the 8th halves it.
    const start = DEFAULTS.limits.initialReadBufferSize;
    const { seen } = await readAll([start, start * 2, ...Array(9).fill(10)]);
    assert.equal(seen[2], start * 4);
    assert.equal(seen[9], start * 4);
    assert.equal(seen[10], start * 2);
  });

  test("a fixed size given as an option never changes", async () => {
    const { seen } = await readAll([100, 100, 100], 100);
    assert.deepEqual(seen, [100, 100, 100, 100]);
  });
});

describe("a connection that lends its read buffers", () => {
  test("has its chunks passed to the socket, each given back after, with no read buffer", async () => {
    const chunks = [new Uint8Array(3), new Uint8Array(60_000)];
    const limits: number[] = [];
    const events: string[] = [];
    let copyingReads = 0;
    const conn = {
      read(): Promise<number | null> {
        copyingReads++;
        return Promise.resolve(null);
      },
      readChunk(limit: number): Promise<Uint8Array | null> {
        limits.push(limit);
        return Promise.resolve(chunks[limits.length - 1] ?? null);
      },
      releaseChunk(): void {
        events.push("release");
      },
      write: (data: Uint8Array) => Promise.resolve(data.length),
      close: () => {},
    };
    const received: Uint8Array[] = [];
    await new Promise<void>((resolve) => {
      const reader = new SocketReader(conn, 0, {
        readerData: (chunk) => {
          received.push(chunk);
          events.push(`data ${chunk.length}`);
        },
        readerEnd: resolve,
        readerError: (error) => {
          throw error;
        },
        readerPause: () => null,
        readerClosed: () => false,
      });
      reader.start();
    });
    assert.equal(copyingReads, 0);
    assert.equal(received[0], chunks[0]);
    assert.equal(received[1], chunks[1]);
    assert.deepEqual(events, ["data 3", "release", "data 60000", "release"]);
    assert.deepEqual(limits, Array(3).fill(DEFAULTS.limits.maxReadBufferSize));
  });
});

describe("a connection that hands chunks over as they come", () => {
  /** A ByteConn over PushedReads, with its direct reads. */
  function pushedConn() {
    const reads = new PushedReads(1 << 20, { pause() {}, resume() {} });
    const conn = {
      read: (buffer: Uint8Array) => reads.read(buffer),
      readDirect: (take: (chunk: Uint8Array) => boolean) =>
        reads.readDirect(take),
      write: (data: Uint8Array) => Promise.resolve(data.length),
      close: () => reads.close(),
    };
    return { reads, conn };
  }

  function nextMacrotask(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  test("delivers a chunk inside the push, and a pause wakes the read loop", async () => {
    const { reads, conn } = pushedConn();
    const events: string[] = [];
    let pause: PromiseWithResolvers<void> | null = null;
    const ended = Promise.withResolvers<void>();
    const reader = new SocketReader(conn, 0, {
      readerData: (chunk) => events.push(`data ${chunk.length}`),
      readerEnd: () => ended.resolve(),
      readerError: (error) => ended.reject(error),
      readerPause: () => pause?.promise ?? null,
      readerClosed: () => false,
    });
    reader.start();
    await nextMacrotask();
    reads.push(new Uint8Array(3));
    assert.deepEqual(events, ["data 3"], "delivered before the push returned");
    pause = Promise.withResolvers<void>();
    reads.push(new Uint8Array(4));
    assert.deepEqual(events, ["data 3", "data 4"]);
    await nextMacrotask();
    // Paused: what comes now waits.
    reads.push(new Uint8Array(5));
    await nextMacrotask();
    assert.deepEqual(events, ["data 3", "data 4"]);
    const resumed = pause;
    pause = null;
    resumed.resolve();
    await nextMacrotask();
    assert.deepEqual(events, ["data 3", "data 4", "data 5"]);
    reads.end();
    await ended.promise;
  });

  test("an exception from the socket's data hook is a read error", async () => {
    const { reads, conn } = pushedConn();
    const failure = new Error("hook failed");
    const failed = Promise.withResolvers<unknown>();
    const reader = new SocketReader(conn, 0, {
      readerData: () => {
        throw failure;
      },
      readerEnd: () => failed.reject(new Error("ended instead")),
      readerError: (error) => failed.resolve(error),
      readerPause: () => null,
      readerClosed: () => false,
    });
    reader.start();
    await nextMacrotask();
    reads.push(new Uint8Array(3));
    assert.equal(await failed.promise, failure);
  });
});
