/**
 * The order of issued reads (deno/issue_order.ts): the same answers as the
 * `Map` it replaces (delete, then set, moves a key to the newest end).
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { IssueOrder } from "../../../deno/issue_order.ts";

/** The oldest value of a `Map` used the way the read schedule used one. */
function oldestOf(map: Map<object, number>): number | undefined {
  return map.values().next().value;
}

test("set moves a key to the newest end, delete and deleteOldest take keys out", () => {
  const order = new IssueOrder<object>();
  const [a, b, c] = [{}, {}, {}];
  assert.equal(order.oldest(), undefined);
  order.set(a, 1);
  order.set(b, 2);
  order.set(c, 3);
  assert.equal(order.size, 3);
  assert.equal(order.oldest(), 1);
  order.set(a, 4);
  assert.equal(order.size, 3);
  assert.equal(order.oldest(), 2);
  assert.equal(order.delete(b), true);
  assert.equal(order.delete(b), false);
  assert.equal(order.oldest(), 3);
  order.deleteOldest();
  assert.equal(order.oldest(), 4);
  order.deleteOldest();
  assert.equal(order.size, 0);
  assert.equal(order.oldest(), undefined);
  order.deleteOldest();
  order.set(c, 5);
  assert.equal(order.oldest(), 5);
  assert.equal(order.size, 1);
});

test("random operations give the same oldest value and size as a Map", () => {
  const order = new IssueOrder<object>();
  const model = new Map<object, number>();
  const keys = Array.from({ length: 12 }, () => ({}));
  let seed = 7;
  const random = (bound: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % bound;
  };
  for (let step = 0; step < 5000; step++) {
    const key = keys[random(keys.length)];
    const choice = random(4);
    if (choice <= 1) {
      model.delete(key);
      model.set(key, step);
      order.set(key, step);
    } else if (choice === 2) {
      assert.equal(order.delete(key), model.delete(key));
    } else {
      const oldest = model.keys().next();
      if (!oldest.done) model.delete(oldest.value);
      order.deleteOldest();
    }
    assert.equal(order.size, model.size);
    assert.equal(order.oldest(), oldestOf(model));
  }
});
