import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ClientLimits } from "../../../server/client_limits.ts";
import { HandshakeError } from "../../../errors.ts";

function manualClock(): { now: () => number; advance(ms: number): void } {
  let time = 1_000_000;
  return { now: () => time, advance: (ms) => time += ms };
}

describe("ClientLimits", () => {
  test("maxConnectionsPerAddress refuses past the cap and admits again once one closes", () => {
    const limits = new ClientLimits({ maxConnectionsPerAddress: 2 }, 5);
    const first = limits.admitConnection("192.0.2.1");
    const second = limits.admitConnection("::ffff:192.0.2.1");
    const third = limits.admitConnection("192.0.2.1");
    assert.ok("release" in first && "release" in second);
    assert.ok(!("release" in third));
    assert.equal(third.retryAfterSeconds, 5);
    assert.ok("release" in limits.admitConnection("192.0.2.2"));
    first.release();
    first.release(); // twice is once
    assert.equal(limits.openConnections("192.0.2.1"), 1);
    assert.ok("release" in limits.admitConnection("192.0.2.1"));
  });

  test("maxHandshakesPerSecond refuses with 429 and Retry-After, then recovers", () => {
    const clock = manualClock();
    const limits = new ClientLimits({
      maxHandshakesPerSecond: 2,
      now: clock.now,
    }, 5);
    const none = new Headers();
    limits.admitUpgrade("192.0.2.1", none);
    limits.admitUpgrade("192.0.2.1", none);
    assert.throws(
      () => limits.admitUpgrade("192.0.2.1", none),
      (error: unknown) => {
        assert.ok(error instanceof HandshakeError);
        assert.equal(error.status, 429);
        assert.deepEqual(error.headers, [["Retry-After", "1"]]);
        return true;
      },
    );
    limits.admitUpgrade("192.0.2.9", none); // another client
    clock.advance(500);
    limits.admitUpgrade("192.0.2.1", none);
  });

  test("behind a trusted proxy, connections count at the upgrade, per forwarded client", () => {
    const limits = new ClientLimits({
      trustedProxies: ["127.0.0.1"],
      maxConnectionsPerAddress: 1,
    }, 5);
    assert.ok("release" in limits.admitConnection("127.0.0.1"));
    assert.ok("release" in limits.admitConnection("127.0.0.1")); // not counted
    const alice = new Headers({ "x-forwarded-for": "203.0.113.1" });
    const bob = new Headers({ "x-forwarded-for": "203.0.113.2" });
    const aliceSocket = limits.admitUpgrade("127.0.0.1", alice);
    limits.admitUpgrade("127.0.0.1", bob);
    assert.throws(
      () => limits.admitUpgrade("127.0.0.1", alice),
      HandshakeError,
    );
    aliceSocket.release();
    limits.admitUpgrade("127.0.0.1", alice);
  });

  test("a cap that is not positive is a RangeError", () => {
    assert.throws(
      () => new ClientLimits({ maxConnectionsPerAddress: 0 }, 5),
      RangeError,
    );
    assert.throws(
      () => new ClientLimits({ maxHandshakesPerSecond: -1 }, 5),
      RangeError,
    );
  });
});
