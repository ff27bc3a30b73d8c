import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { largeReadBuffersHeld, SocketReader } from "../../../socket/reader.ts";
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

/** Reads a scripted connection to its end; `missing[i]` is what the frame
 * in progress still needs after the i-th read (0 when not given). */
function readAll(
  sizes: number[],
  fixedSize = 0,
  missing: number[] = [],
): Promise<{
  seen: number[];
  received: number;
}> {
  const { conn, seen } = scriptedConn(sizes);
  let received = 0;
  let reads = 0;
  return new Promise((resolve) => {
    const reader = new SocketReader(conn, fixedSize, {
      readerData: (chunk) => received += chunk.length,
      readerEnd: () => resolve({ seen, received }),
      readerError: (error) => {
        throw error;
      },
      readerPause: () => null,
      readerClosed: () => false,
      readerFrameBytesMissing: () => missing[reads++] ?? 0,
    });
    reader.start();
  });
}

describe("the read buffer", () => {
  test("starts small, doubles while small frames fill it, then grows by a quarter up to the maximum", async () => {
    const { seen, received } = await readAll(Array(20).fill(1 << 20));
    const limits = DEFAULTS.limits;
    const expected: number[] = [];
    let size = limits.initialReadBufferSize;
    while (expected.length < 20) {
      expected.push(size);
      size = size < limits.largeReadBufferFrom
        ? size * 2
        : Math.ceil(size * 1.25 / 4096) * 4096;
      size = Math.min(size, limits.maxReadBufferSize);
    }
    assert.ok(
      expected.indexOf(limits.largeReadBufferFrom) >= 4,
      "several doublings",
    );
    assert.ok(
      expected.indexOf(limits.maxReadBufferSize) >
        expected.indexOf(limits.largeReadBufferFrom) + 2,
      "several smaller steps past largeReadBufferFrom",
    );
    assert.equal(expected.at(-1), limits.maxReadBufferSize);
    assert.deepEqual(seen.slice(0, 20), expected);
    assert.equal(received, expected.reduce((sum, size) => sum + size, 0));
  });

  test("doubles for a large frame, never to what its header announced", async () => {
    const start = DEFAULTS.limits.initialReadBufferSize;
    const missing = [1 << 20, 1 << 20, 0];
    const { seen } = await readAll([start, 1 << 20, 10], 0, missing);
    assert.deepEqual(seen.slice(0, 3), [start, start * 2, start * 4]);
  });

  test("halves only after a run of small reads", async () => {
    // Grow to 4x the start, then 7 small reads keep it, the 8th halves it.
    const start = DEFAULTS.limits.initialReadBufferSize;
    const { seen } = await readAll([start, start * 2, ...Array(9).fill(10)]);
    assert.equal(seen[2], start * 4);
    assert.equal(seen[9], start * 4);
    assert.equal(seen[10], start * 2);
  });

  test("halves a buffer that reads use little of, counting the frame in progress", async () => {
    // 16 KiB, then reads of 3 KiB (under a quarter) whose frame needs 2 KiB
    // more keep it; the same reads with nothing missing halve it.
    const from = DEFAULTS.limits.largeReadBufferFrom;
    const growth: number[] = [];
    for (let size = DEFAULTS.limits.initialReadBufferSize; size < from;) {
      growth.push(size);
      size *= 2;
    }
    const small = Array(SMALL_READS).fill(3072);
    const missing = [
      ...growth.map(() => 0),
      ...small.map(() => 2048),
      ...small.map(() => 0),
    ];
    const { seen } = await readAll([...growth, ...small, ...small], 0, missing);
    const afterGrowth = seen.slice(growth.length);
    assert.deepEqual(
      afterGrowth.slice(0, 2 * SMALL_READS),
      Array(2 * SMALL_READS).fill(from),
    );
    assert.equal(afterGrowth[2 * SMALL_READS], from / 2);
  });

  test("a fixed size given as an option never changes", async () => {
    const { seen } = await readAll([100, 100, 100], 100);
    assert.deepEqual(seen, [100, 100, 100, 100]);
  });
});

/** Reads in a row that use little of a buffer before it halves. */
const SMALL_READS = 8;

describe("the budget of large read buffers", () => {
  /**
   * A reader whose connection answers `sizes` in turn (with `missing`
   * after each, as readAll), then leaves its next read pending until the
   * reader is closed; resolves once that read is pending, with the sizes of
   * the buffers it was handed.
   */
  async function readerLeftPending(
    sizes: number[],
    missing: number[],
  ): Promise<{ reader: SocketReader; seen: number[] }> {
    const seen: number[] = [];
    const pending = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<number | null>();
    let next = 0;
    let isClosed = false;
    const conn: ByteConn = {
      read(buffer: Uint8Array): Promise<number | null> {
        seen.push(buffer.length);
        if (next < sizes.length) return Promise.resolve(sizes[next++]);
        pending.resolve();
        return closed.promise;
      },
      write: (data: Uint8Array) => Promise.resolve(data.length),
      close: () => {
        isClosed = true;
        closed.reject(new Error("closed"));
      },
    };
    let reads = 0;
    const reader = new SocketReader(conn, 0, {
      readerData: () => {},
      readerEnd: () => {},
      readerError: (error) => {
        throw error;
      },
      readerPause: () => null,
      readerClosed: () => isClosed,
      readerFrameBytesMissing: () => missing[reads++] ?? 0,
    });
    reader.start();
    await pending.promise;
    return { reader, seen };
  }

  test("stops small frames from growing buffers past largeReadBufferFrom, not large frames", async () => {
    const limits = DEFAULTS.limits;
    const start = limits.initialReadBufferSize;
    const max = limits.maxReadBufferSize;
    const heldBefore = largeReadBuffersHeld();
    // Reads that a large frame fills: the buffer doubles up to the maximum.
    const doublings: number[] = [];
    for (let size = start; size < max; size *= 2) doublings.push(size);
    const stillMissing = doublings.map(() => 1 << 20);
    const readers: SocketReader[] = [];
    try {
      // Large frames take the whole budget: each reader grows to the maximum.
      const fill = Math.ceil(limits.largeReadBuffersBudget / max);
      for (let index = 0; index < fill; index++) {
        const { reader, seen } = await readerLeftPending(
          doublings,
          stillMissing,
        );
        readers.push(reader);
        assert.deepEqual(seen, [...doublings, max]);
      }
      assert.equal(largeReadBuffersHeld(), heldBefore + fill * max);
      // Small frames now stop at largeReadBufferFrom ...
      const growth: number[] = [];
      for (let size = start; size <= limits.largeReadBufferFrom; size *= 2) {
        growth.push(size);
      }
      const small = await readerLeftPending([...growth, growth.at(-1)!], []);
      readers.push(small.reader);
      assert.deepEqual(small.seen, [
        ...growth,
        limits.largeReadBufferFrom,
        limits.largeReadBufferFrom,
      ]);
      // ... while a large frame still grows its buffer.
      const large = await readerLeftPending(doublings, stillMissing);
      readers.push(large.reader);
      assert.deepEqual(large.seen, [...doublings, max]);
      assert.equal(largeReadBuffersHeld(), heldBefore + (fill + 1) * max);
    } finally {
      for (const reader of readers) reader.close();
    }
    assert.equal(
      largeReadBuffersHeld(),
      heldBefore,
      "closed readers give their bytes back",
    );
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
