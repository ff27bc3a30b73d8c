/**
 * PushedReads: chunks a transport pushed, read by copying (`read`) or
 * handed out as they are (`readChunk`), with the transport paused past the
 * high-water mark.
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
  test("hands out a pushed chunk itself, no copy", async () => {
    const { reads } = pushedReads();
    const chunk = bytes(100);
    reads.push(chunk);
    assert.equal(await reads.readChunk(65536), chunk);
  });

  test("a read waiting before the push gets the chunk", async () => {
    const { reads } = pushedReads();
    const waiting = reads.readChunk(65536);
    const chunk = bytes(10);
    reads.push(chunk);
    assert.equal(await waiting, chunk);
  });

  test("splits a chunk longer than the limit into views, in order", async () => {
    const { reads } = pushedReads(1 << 20);
    const chunk = bytes(250);
    reads.push(chunk);
    const first = await reads.readChunk(200);
    const second = await reads.readChunk(200);
    assert.equal(first!.buffer, chunk.buffer);
    assert.deepEqual(first, bytes(200));
    // What is left is copied: a view would keep all 250 bytes for 50.
    assert.notEqual(second!.buffer, chunk.buffer);
    assert.deepEqual(second, bytes(50, 200));
  });

  test("joins several small waiting chunks into one array", async () => {
    const { reads } = pushedReads();
    reads.push(bytes(10));
    reads.push(bytes(20, 10));
    reads.push(bytes(30, 30));
    assert.deepEqual(await reads.readChunk(65536), bytes(60));
  });

  test("joins no more than the limit", async () => {
    const { reads } = pushedReads();
    reads.push(bytes(10));
    reads.push(bytes(20, 10));
    assert.deepEqual(await reads.readChunk(15), bytes(15));
    assert.deepEqual(await reads.readChunk(15), bytes(15, 15));
  });

  test("copies a small view of a large buffer, so the buffer can go", async () => {
    const { reads } = pushedReads();
    const large = new Uint8Array(65536);
    large.set(bytes(16), 1000);
    reads.push(large.subarray(1000, 1016));
    const chunk = await reads.readChunk(65536);
    assert.notEqual(chunk!.buffer, large.buffer);
    assert.deepEqual(chunk, bytes(16));
  });

  test("resumes the transport once reads took it below the high-water mark", async () => {
    const { reads, flow } = pushedReads(100);
    reads.push(bytes(60));
    assert.deepEqual(flow, []);
    reads.push(bytes(60, 60));
    assert.deepEqual(flow, ["pause"]);
    assert.deepEqual(await reads.readChunk(60), bytes(60));
    assert.deepEqual(flow, ["pause", "resume"]);
    assert.deepEqual(await reads.readChunk(60), bytes(60, 60));
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

describe("readsChunks", () => {
  test("tells a connection with readChunk from one without", () => {
    const { reads } = pushedReads();
    assert.equal(readsChunks(reads), true);
    assert.equal(readsChunks({ read: () => Promise.resolve(null) }), false);
  });
});
