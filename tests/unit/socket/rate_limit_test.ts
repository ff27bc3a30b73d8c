import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KeyedRateLimiter, TokenBucket } from "../../../socket/rate_limit.ts";

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance(ms: number): void } {
  let time = 1_000_000;
  return { now: () => time, advance: (ms) => time += ms };
}

describe("TokenBucket", () => {
  test("admits a burst of rate, refuses past it, and refills at the rate", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(3, clock.now);
    assert.deepEqual([1, 2, 3, 4].map(() => bucket.take()), [
      true,
      true,
      true,
      false,
    ]);
    assert.equal(bucket.retryAfterSeconds, 1);
    clock.advance(334); // one token's worth
    assert.equal(bucket.take(), true);
    assert.equal(bucket.take(), false);
    clock.advance(10_000); // never more than a second's worth
    assert.deepEqual([1, 2, 3, 4].map(() => bucket.take()), [
      true,
      true,
      true,
      false,
    ]);
  });

  test("a bucket is full again once a second passed without takes", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(2, clock.now);
    bucket.take();
    assert.equal(bucket.full, false);
    clock.advance(500);
    assert.equal(bucket.full, true);
  });
});

describe("KeyedRateLimiter", () => {
  test("each key has its own bucket; the answer is the seconds to wait", () => {
    const clock = manualClock();
    const limiter = new KeyedRateLimiter(1, clock.now);
    assert.equal(limiter.take("a"), 0);
    assert.equal(limiter.take("a"), 1);
    assert.equal(limiter.take("b"), 0);
    clock.advance(1000);
    assert.equal(limiter.take("a"), 0);
  });

  test("buckets that filled up again are dropped once there are many", () => {
    const clock = manualClock();
    const limiter = new KeyedRateLimiter(1, clock.now);
    for (let index = 0; index < 4096; index++) limiter.take(`client ${index}`);
    clock.advance(2000);
    limiter.take("newcomer");
    assert.equal(limiter.size, 1);
  });
});
