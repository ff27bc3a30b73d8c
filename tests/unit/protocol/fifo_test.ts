/**
 * The FIFO shared by the write queue, the async iterator's buffer and the
 * `node:net` connection: order, look-ahead, and a bounded backing array
 * even when the queue never empties.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Fifo, FIFO_COMPACT_AFTER } from "../../../protocol/fifo.ts";

describe("Fifo", () => {
  test("items come out in the order they went in", () => {
    const fifo = new Fifo<number>();
    for (let i = 0; i < 5000; i++) fifo.push(i);
    const out: number[] = [];
    for (let item = fifo.shift(); item !== undefined; item = fifo.shift()) {
      out.push(item);
    }
    assert.deepEqual(out, Array.from({ length: 5000 }, (_, i) => i));
    assert.equal(fifo.length, 0);
    assert.equal(fifo.shift(), undefined);
  });

  test("at() looks ahead from the front without removing", () => {
    const fifo = new Fifo<string>();
    fifo.push("a");
    fifo.push("b");
    fifo.push("c");
    fifo.shift();
    assert.equal(fifo.at(0), "b");
    assert.equal(fifo.at(1), "c");
    assert.equal(fifo.at(2), undefined);
    assert.equal(fifo.at(-1), undefined);
    assert.equal(fifo.length, 2);
  });

  test("clear() empties the queue", () => {
    const fifo = new Fifo<number>();
    fifo.push(1);
    fifo.push(2);
    fifo.clear();
    assert.equal(fifo.length, 0);
    assert.equal(fifo.shift(), undefined);
    fifo.push(3);
    assert.equal(fifo.shift(), 3);
  });

  test("a queue that never drains completely keeps a bounded array", () => {
    const fifo = new Fifo<number>();
    fifo.push(0);
    let largest = 0;
    for (let i = 1; i <= 20 * FIFO_COMPACT_AFTER; i++) {
      fifo.push(i);
      assert.equal(fifo.shift(), i - 1);
      largest = Math.max(largest, fifo.slots);
    }
    assert.equal(fifo.length, 1);
    assert.ok(
      largest <= 2 * FIFO_COMPACT_AFTER + 1,
      `${largest} slots held for one waiting item`,
    );
  });

  test("a long queue read in part is cut without losing items", () => {
    const fifo = new Fifo<number>();
    for (let i = 0; i < 10 * FIFO_COMPACT_AFTER; i++) fifo.push(i);
    for (let i = 0; i < 6 * FIFO_COMPACT_AFTER; i++) {
      assert.equal(fifo.shift(), i);
    }
    assert.ok(fifo.slots < 10 * FIFO_COMPACT_AFTER, "the read slots were cut");
    assert.equal(fifo.at(0), 6 * FIFO_COMPACT_AFTER);
    assert.equal(fifo.length, 4 * FIFO_COMPACT_AFTER);
  });
});
