/**
 * PushedReads: chunks a transport pushed, read by copying into the
 * caller's buffer (`read`) or into a lent one (`readChunk`), with the
 * transport paused past the high-water mark.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PushedReads, readsChunks } from "../../../socket/pushed_reads.ts";

/** PushedReads over a flow that records its pauses and resumes. */
function pushedReads(highWater = 1024): {
  reads: PushedReads;
  flow: string[];
} {
  const flow: string[] = [];
  const reads = new PushedReads(highWater, {
    pause: () => flow.push("pause"),
    resume: () => flow.push("resume"),
  });
  return { reads, flow };
}

/** `length` bytes counting up from `first`. */
function bytes(length: number, first = 0): Uint8Array {
  const result = new Uint8Array(length);
  for (let index = 0; index < length; index++) {
    result[index] = (first + index) & 0xff;
  }
  return result;
}

describe("PushedReads.readChunk", () => {
  test("copies the pushed bytes into a lent buffer, not the chunk", async () => {
    const { reads } = pushedReads();
    const chunk = bytes(100);
    reads.push(chunk);
    const read = await reads.readChunk(65536);
    assert.deepEqual(read, bytes(100));
    assert.notEqual(read!.buffer, chunk.buffer);
  });

  test("a read waiting before the push gets the bytes", async () => {
    const { reads } = pushedReads();
    const waiting = reads.readChunk(65536);
    reads.push(bytes(10));
    assert.deepEqual(await waiting, bytes(10));
  });

  test("reads waiting on several connections each settle with their own bytes", async () => {
    const first = pushedReads().reads;
    const second = pushedReads().reads;
    const firstRead = first.readChunk(65536);
    const secondRead = second.read(new Uint8Array(64));
    second.push(bytes(5, 200));
    first.push(bytes(3, 100));
    assert.deepEqual(await firstRead, bytes(3, 100));
    assert.equal(await secondRead, 5);
    second.close();
    const closedRead = first.readChunk(65536);
    first.close();
    await assert.rejects(closedRead, /closed/);
  });

  test("joins waiting chunks, up to the limit, in order", async () => {
    const { reads } = pushedReads(1 << 20);
    reads.push(bytes(10));
    reads.push(bytes(20, 10));
    reads.push(bytes(30, 30));
    assert.deepEqual(await reads.readChunk(25), bytes(25));
    assert.deepEqual(await reads.readChunk(65536), bytes(35, 25));
  });

  test("returns at most 64 KiB, whatever the limit", async () => {
    const { reads } = pushedReads(1 << 20);
    reads.push(bytes(100_000));
    assert.equal((await reads.readChunk(1 << 20))!.length, 65536);
    assert.deepEqual(
      await reads.readChunk(1 << 20),
      bytes(100_000 - 65536, 65536),
    );
  });

  test("a buffer given back is lent again; one not given back is not", async () => {
    const { reads } = pushedReads();
    const other = pushedReads().reads;
    reads.push(bytes(10));
    const first = await reads.readChunk(65536);
    reads.releaseChunk();
    other.push(bytes(10));
    const second = await other.readChunk(65536);
    assert.equal(second!.buffer, first!.buffer);
    reads.push(bytes(10));
    const third = await reads.readChunk(65536);
    assert.notEqual(third!.buffer, second!.buffer);
  });

  test("pauses the transport past the high-water mark, resumes once read", async () => {
    const { reads, flow } = pushedReads(100);
    reads.push(bytes(60));
    reads.push(bytes(60, 60));
    assert.deepEqual(flow, ["pause"]);
    assert.deepEqual(await reads.readChunk(60), bytes(60));
    assert.deepEqual(flow, ["pause", "resume"]);
    assert.deepEqual(await reads.readChunk(60), bytes(60, 60));
  });

  test("does not pause for what a waiting read takes at once", async () => {
    const { reads, flow } = pushedReads(100);
    const waiting = reads.readChunk(65536);
    reads.push(bytes(150));
    assert.deepEqual(await waiting, bytes(150));
    assert.deepEqual(flow, []);
  });

  test("returns null at the end, after what is left", async () => {
    const { reads } = pushedReads();
    reads.push(bytes(5));
    reads.end();
    assert.deepEqual(await reads.readChunk(65536), bytes(5));
    assert.equal(await reads.readChunk(65536), null);
  });

  test("rejects after what is left when the transport failed", async () => {
    const { reads } = pushedReads();
    reads.push(bytes(5));
    reads.fail(new Error("reset"));
    assert.deepEqual(await reads.readChunk(65536), bytes(5));
    await assert.rejects(reads.readChunk(65536), /reset/);
  });

  test("mixes with copying reads, in order", async () => {
    const { reads } = pushedReads();
    reads.push(bytes(30));
    const buffer = new Uint8Array(10);
    assert.equal(await reads.read(buffer), 10);
    assert.deepEqual(buffer, bytes(10));
    assert.deepEqual(await reads.readChunk(65536), bytes(20, 10));
  });
});

describe("PushedReads' lent buffers", () => {
  test("closing gives the lent buffer back", async () => {
    const { reads } = pushedReads();
    reads.push(bytes(10));
    const first = await reads.readChunk(65536);
    reads.close();
    const other = pushedReads().reads;
    other.push(bytes(10));
    assert.equal((await other.readChunk(65536))!.buffer, first!.buffer);
    other.close();
  });

  test("past 16 out at once, a read gets a buffer of the size it needs", async () => {
    const all = Array.from({ length: 20 }, () => pushedReads().reads);
    const sizes: number[] = [];
    for (const reads of all) {
      reads.push(bytes(10));
      sizes.push((await reads.readChunk(65536))!.buffer.byteLength);
    }
    for (const reads of all) reads.close();
    assert.ok(sizes.filter((size) => size === 10).length >= 4, `${sizes}`);
    assert.ok(sizes.every((size) => size === 10 || size === 65536));
  });
});

describe("readsChunks", () => {
  test("tells a connection with lent reads from one without", () => {
    const { reads } = pushedReads();
    assert.equal(readsChunks(reads), true);
    assert.equal(readsChunks({ read: () => Promise.resolve(null) }), false);
  });
});
