/**
 * Small outgoing frames share slabs: no two frames may share a byte, text
 * frames give back what they did not use, and the write queue writes frames
 * that lie back to back as one view, without copying them.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  allocateFrameBytes,
  POOL_CLASS_HEADER_ROOM,
  POOL_MAX_FRAME_BYTES,
  pooledFrames,
  releaseFrameBytes,
  releaseUnusedFrameBytes,
  SLAB_BYTES,
  SLAB_MAX_FRAME_BYTES,
} from "../../../frame/pool.ts";
import { FrameDecoder } from "../../../frame/decoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { Protocol } from "../../../protocol/protocol.ts";
import { WriteQueue } from "../../../socket/write_queue.ts";

/** Whether two views share any byte of memory. */
function overlap(a: Uint8Array, b: Uint8Array): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.length &&
    b.byteOffset < a.byteOffset + a.length;
}

describe("allocateFrameBytes", () => {
  test("small frames come from one slab, never overlapping", () => {
    const taken: Uint8Array[] = [];
    for (let size = 1; size < 200; size += 7) {
      const bytes = allocateFrameBytes(size);
      assert.equal(bytes.length, size);
      bytes.fill(0xab);
      taken.push(bytes);
    }
    for (let i = 0; i < taken.length; i++) {
      for (let j = i + 1; j < taken.length; j++) {
        assert.equal(overlap(taken[i], taken[j]), false, `${i} and ${j}`);
      }
    }
    assert.ok(taken.some((bytes) => bytes.buffer.byteLength === SLAB_BYTES));
  });

  test("a frame past the pool's largest gets a buffer of its own", () => {
    const bytes = allocateFrameBytes(POOL_MAX_FRAME_BYTES + 1);
    assert.equal(bytes.buffer.byteLength, POOL_MAX_FRAME_BYTES + 1);
    releaseFrameBytes(bytes); // not lent: ignored
    const next = allocateFrameBytes(POOL_MAX_FRAME_BYTES + 1);
    assert.notEqual(next.buffer, bytes.buffer);
  });

  test("a larger frame is lent from the pool and reused once given back", () => {
    const size = 65536 + 10;
    const first = allocateFrameBytes(size);
    assert.equal(first.length, size);
    assert.equal(first.byteOffset, 0);
    const second = allocateFrameBytes(size);
    assert.notEqual(second.buffer, first.buffer, "both lent at once");
    releaseFrameBytes(first);
    releaseFrameBytes(first); // twice: the second is ignored
    const third = allocateFrameBytes(size - 1); // the same size class
    assert.equal(third.buffer, first.buffer, "the given-back buffer is reused");
    const fourth = allocateFrameBytes(size);
    assert.notEqual(fourth.buffer, first.buffer, "never lent twice at once");
    for (const frame of [second, third, fourth]) releaseFrameBytes(frame);
  });

  test("a power-of-two payload and its header fit a class of that size", () => {
    for (const payload of [4096, 65536, 512 * 1024]) {
      const frame = allocateFrameBytes(payload + 10);
      assert.equal(
        frame.buffer.byteLength,
        payload + POOL_CLASS_HEADER_ROOM,
        `${payload} B payload`,
      );
      releaseFrameBytes(frame);
    }
    const past = allocateFrameBytes(65536 + POOL_CLASS_HEADER_ROOM + 1);
    assert.equal(past.buffer.byteLength, 131072 + POOL_CLASS_HEADER_ROOM);
    releaseFrameBytes(past);
  });

  test("a full slab with a frame not given back is replaced, not reused", () => {
    const first = allocateFrameBytes(SLAB_MAX_FRAME_BYTES);
    first.fill(1);
    const later: Uint8Array[] = [];
    for (
      let index = 0;
      index < (2 * SLAB_BYTES) / SLAB_MAX_FRAME_BYTES;
      index++
    ) {
      later.push(allocateFrameBytes(SLAB_MAX_FRAME_BYTES));
    }
    assert.ok(first.every((byte) => byte === 1), "nothing wrote over it");
    assert.ok(later.some((bytes) => bytes.buffer !== first.buffer));
    for (const bytes of later) assert.equal(overlap(bytes, first), false);
  });

  test("the unused end of the last allocation is given back", () => {
    const text = allocateFrameBytes(90);
    releaseUnusedFrameBytes(text, 30);
    const next = allocateFrameBytes(10);
    if (next.buffer === text.buffer) {
      assert.equal(next.byteOffset, text.byteOffset + 30);
    }
    // Not the last allocation any more: nothing is given back.
    releaseUnusedFrameBytes(text, 0);
    const after = allocateFrameBytes(10);
    assert.equal(overlap(after, next), false);
    assert.equal(overlap(after, text.subarray(0, 30)), false);
  });
});

/** A write queue over pooled frames whose writes stay pending until
 * `finishWrite` settles the latest one. */
function queueWithPendingWrites(): {
  queue: WriteQueue;
  writes: Uint8Array[];
  finishWrite: (count: number) => void;
  idle: Promise<void>;
} {
  let settle = (_count: number) => {};
  const writes: Uint8Array[] = [];
  const idle = Promise.withResolvers<void>();
  const queue = new WriteQueue({
    write: (data) => {
      writes.push(data);
      return new Promise((resolve) => settle = resolve);
    },
  }, {
    writeIdle: () => idle.resolve(),
    writeError: (error) => assert.fail(String(error)),
  }, pooledFrames);
  return {
    queue,
    writes,
    finishWrite: (count) => settle(count),
    idle: idle.promise,
  };
}

/**
 * A piece at the start of a slab with no other piece out: pieces of the
 * current slab are taken (and never given back) until one starts a slab.
 */
function pieceStartingASlab(size: number): Uint8Array {
  for (;;) {
    const bytes = allocateFrameBytes(size);
    if (bytes.byteOffset === 0) return bytes;
  }
}

describe("slab reuse", () => {
  test("once every piece of the current slab is back, it starts over", () => {
    const first = pieceStartingASlab(100);
    const second = allocateFrameBytes(200);
    assert.equal(second.buffer, first.buffer);
    assert.equal(second.byteOffset, 100);
    releaseFrameBytes(first);
    const third = allocateFrameBytes(50);
    assert.equal(third.byteOffset, 300, "one piece still out: no reuse");
    releaseFrameBytes(second);
    releaseFrameBytes(third);
    const again = allocateFrameBytes(10);
    assert.equal(again.buffer, first.buffer);
    assert.equal(again.byteOffset, 0, "every piece back: the slab starts over");
    releaseFrameBytes(again);
  });

  test("a full slab whose pieces all come back is reused, not replaced", () => {
    const pieces = [pieceStartingASlab(SLAB_MAX_FRAME_BYTES)];
    const slabBuffer = pieces[0].buffer;
    while (pieces.length < SLAB_BYTES / SLAB_MAX_FRAME_BYTES) {
      pieces.push(allocateFrameBytes(SLAB_MAX_FRAME_BYTES));
    }
    const next = allocateFrameBytes(SLAB_MAX_FRAME_BYTES);
    assert.notEqual(next.buffer, slabBuffer, "the full slab was left");
    for (const piece of pieces) releaseFrameBytes(piece);
    // Fill the slab `next` lies in; with `next` out it cannot start over.
    let later = allocateFrameBytes(SLAB_MAX_FRAME_BYTES);
    while (later.buffer === next.buffer) {
      later = allocateFrameBytes(SLAB_MAX_FRAME_BYTES);
    }
    assert.equal(later.buffer, slabBuffer, "the freed full slab came back");
    assert.equal(later.byteOffset, 0);
    releaseFrameBytes(later);
  });

  test("a slab with a piece never given back is not reused", () => {
    const kept = pieceStartingASlab(SLAB_MAX_FRAME_BYTES);
    kept.fill(3);
    const given: Uint8Array[] = [];
    for (
      let index = 0;
      index < 4 * SLAB_BYTES / SLAB_MAX_FRAME_BYTES;
      index++
    ) {
      const bytes = allocateFrameBytes(SLAB_MAX_FRAME_BYTES);
      assert.equal(overlap(bytes, kept), false);
      bytes.fill(4);
      given.push(bytes);
      releaseFrameBytes(bytes);
    }
    assert.ok(kept.every((byte) => byte === 3), "nothing wrote over it");
  });

  test("bytes handed to a write are never reused before it settles", async () => {
    const { queue, writes, finishWrite, idle } = queueWithPendingWrites();
    const protocol = new Protocol({
      role: "server",
      frameAllocator: pooledFrames,
    });
    protocol.setFrameSink(queue);
    const before = pieceStartingASlab(1); // the run starts after it
    protocol.sendText("first");
    protocol.sendText("second");
    releaseFrameBytes(before); // the run is the slab's only piece out
    await Promise.resolve(); // the write starts at the end of the tick
    assert.equal(writes.length, 1);
    const inFlight = writes[0];
    const copy = inFlight.slice();
    // Other frames while the write is pending: none may land on its bytes.
    for (let index = 0; index < 10; index++) {
      const bytes = allocateFrameBytes(64);
      assert.equal(overlap(bytes, inFlight), false);
      bytes.fill(0xee);
      releaseFrameBytes(bytes);
    }
    assert.deepEqual(inFlight, copy, "the bytes being written are intact");
    finishWrite(inFlight.length);
    await idle;
    const after = allocateFrameBytes(10);
    assert.ok(after.buffer === before.buffer, "the same slab");
    assert.equal(after.byteOffset, 0, "the run was given back once written");
    releaseFrameBytes(after);
  });

  test("frames joined into one view are one piece, given back once written", async () => {
    const { queue, writes, finishWrite, idle } = queueWithPendingWrites();
    const first = pieceStartingASlab(10);
    const second = allocateFrameBytes(20);
    const third = allocateFrameBytes(30);
    queue.pushChunk(first);
    queue.pushChunk(second);
    queue.pushChunk(third);
    await Promise.resolve();
    assert.equal(writes.length, 1);
    assert.equal(writes[0].length, 60);
    assert.equal(writes[0].buffer, first.buffer, "one view, no copy");
    const during = allocateFrameBytes(5);
    assert.equal(during.byteOffset, 60, "the joined view is still out");
    releaseFrameBytes(during);
    finishWrite(60);
    await idle;
    const after = allocateFrameBytes(5);
    assert.equal(after.buffer, first.buffer);
    assert.equal(after.byteOffset, 0, "all given back once written");
    releaseFrameBytes(after);
  });
});

describe("Protocol frames from slabs", () => {
  test("many small messages encode to frames that never share a byte", () => {
    const protocol = new Protocol({
      role: "server",
      frameAllocator: pooledFrames,
    });
    const sent: string[] = [];
    for (let index = 0; index < 3000; index++) {
      const message = "é".repeat(index % 50) + index;
      sent.push(message);
      if (index % 2 === 0) protocol.sendText(message);
      else protocol.sendBinary(new TextEncoder().encode(message));
    }
    const frames = protocol.takeOutgoing();
    const sorted = [...frames].sort((a, b) => a.byteOffset - b.byteOffset);
    for (let index = 1; index < sorted.length; index++) {
      assert.equal(overlap(sorted[index - 1], sorted[index]), false);
    }
    const decoder = new FrameDecoder({ expectMasked: false });
    const received: string[] = [];
    for (const frame of frames) {
      decoder.push(frame);
      const decoded = decoder.next();
      assert.ok(decoded !== undefined);
      assert.equal(
        decoded.opcode,
        received.length % 2 === 0 ? Opcode.Text : Opcode.Binary,
      );
      received.push(new TextDecoder().decode(decoded.payload));
    }
    assert.deepEqual(received, sent);
  });
});

describe("text frames from slabs", () => {
  test("short texts whose header shrinks still lie back to back", () => {
    // 50 characters: the worst case (150 bytes) needs a 4-byte header, the
    // real frame a 2-byte one.
    const protocol = new Protocol({
      role: "server",
      frameAllocator: pooledFrames,
    });
    protocol.sendText("a".repeat(50));
    protocol.sendText("b".repeat(50));
    const [first, second] = protocol.takeOutgoing();
    assert.equal(first.length, 52);
    assert.equal(first[1], 50);
    assert.equal(new TextDecoder().decode(second.subarray(2)), "b".repeat(50));
    if (first.buffer === second.buffer) {
      assert.equal(second.byteOffset, first.byteOffset + first.length);
    }
  });
});

describe("WriteQueue coalescing", () => {
  /** A writer that records every write and settles at once. */
  function recordingWriter() {
    const writes: Uint8Array[] = [];
    let idle = Promise.withResolvers<void>();
    const queue = new WriteQueue({
      write: (data) => {
        writes.push(data);
        return Promise.resolve(data.length);
      },
    }, {
      writeIdle: () => idle.resolve(),
      writeError: (error) => assert.fail(String(error)),
    }, pooledFrames);
    return {
      writes,
      queue,
      idle: () => idle.promise.then(() => idle = Promise.withResolvers()),
    };
  }

  test("frames back to back in one buffer go out as one view of it", async () => {
    const { writes, queue, idle } = recordingWriter();
    const backing = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    queue.pushChunk(backing.subarray(1, 3));
    queue.pushChunk(backing.subarray(3, 4));
    queue.pushChunk(backing.subarray(4, 8));
    await idle();
    assert.equal(writes.length, 1);
    assert.deepEqual(writes[0], new Uint8Array([2, 3, 4, 5, 6, 7, 8]));
    assert.equal(writes[0].buffer, backing.buffer, "no copy");
  });

  test("a lent frame goes back to the pool only once its write finished", async () => {
    const { queue, writes, finishWrite, idle } = queueWithPendingWrites();
    const size = 3 * SLAB_MAX_FRAME_BYTES;
    const frame = allocateFrameBytes(size);
    frame.fill(7);
    queue.pushChunk(frame);
    await Promise.resolve(); // the write starts at the end of the tick
    assert.equal(writes.length, 1);
    const during = allocateFrameBytes(size);
    assert.notEqual(during.buffer, frame.buffer, "still being written");
    finishWrite(size);
    await idle;
    const after = allocateFrameBytes(size);
    assert.equal(after.buffer, frame.buffer, "given back after the write");
    releaseFrameBytes(during);
    releaseFrameBytes(after);
  });

  test("frames apart (a gap, another buffer) are joined into a copy", async () => {
    const { writes, queue, idle } = recordingWriter();
    const backing = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const other = new Uint8Array([7, 8]);
    queue.pushChunk(backing.subarray(0, 2));
    queue.pushChunk(backing.subarray(3, 5));
    queue.pushChunk(other);
    await idle();
    assert.equal(writes.length, 1);
    assert.deepEqual(writes[0], new Uint8Array([1, 2, 4, 5, 7, 8]));
    assert.notEqual(writes[0].buffer, backing.buffer);
  });
});
