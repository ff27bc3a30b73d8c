/**
 * WriteQueue with a writer that says when it took the bytes at once
 * (`writeNow` returns a number): no promise is waited for.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { WriteQueue } from "../../../socket/write_queue.ts";
import { freshFrames } from "../../../frame/pool.ts";

describe("WriteQueue over a writer that takes bytes at once", () => {
  test("writes and goes idle inside release(), with no promise", () => {
    const calls: string[] = [];
    const writer = {
      write(data: Uint8Array): Promise<number> {
        calls.push(`write ${data.length}`);
        return Promise.resolve(data.length);
      },
      writeNow(_data: Uint8Array, _offset: number, length: number): number {
        calls.push(`writeNow ${length}`);
        return length;
      },
    };
    let idle = 0;
    const queue = new WriteQueue(writer, {
      writeIdle: () => idle++,
      writeError: (error) => assert.fail(String(error)),
    }, freshFrames);
    queue.hold();
    queue.pushChunk(new Uint8Array(3));
    queue.pushChunk(new Uint8Array(4));
    queue.release();
    assert.deepEqual(calls, ["writeNow 7"]);
    assert.equal(idle, 1);
    assert.equal(queue.bufferedAmount, 0);
    assert.equal(queue.idle, true);
  });

  test("a short write at once goes on with the rest, then a promise", async () => {
    const taken: number[] = [];
    let later: PromiseWithResolvers<number> | null = null;
    const writer = {
      write: (data: Uint8Array) => Promise.resolve(data.length),
      writeNow(
        _data: Uint8Array,
        _offset: number,
        length: number,
      ): number | Promise<number> {
        taken.push(length);
        if (taken.length === 1) return 2;
        later = Promise.withResolvers<number>();
        return later.promise;
      },
    };
    const idle = Promise.withResolvers<void>();
    const queue = new WriteQueue(writer, {
      writeIdle: () => idle.resolve(),
      writeError: (error) => idle.reject(error),
    }, freshFrames);
    queue.hold();
    queue.pushChunk(new Uint8Array(10));
    queue.release();
    assert.deepEqual(taken, [10, 8]);
    assert.equal(queue.bufferedAmount, 8);
    later!.resolve(8);
    await idle.promise;
    assert.equal(queue.bufferedAmount, 0);
  });
});
