/**
 * The fair read schedule of accepted Deno connections (deno/fair_reads.ts):
 * with many reads pending and one of them stale, a new read waits until
 * reads stop completing; a drain that found the pending reads quiet (not
 * starved) is not followed by another at once; with few pending nothing
 * waits; a held read of a connection closed meanwhile fails; and reads of
 * tens of thousands of quiet connections, completing at their own pace,
 * do not keep a drain going.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FairConn, readScheduleState } from "../../../deno/fair_reads.ts";

/** Past the schedule's stale mark (50 ms), and past the pause after a
 * drain that found no starved reads (100 ms) that an earlier test left. */
const STALE_WAIT_MS = 150;

interface Pair {
  client: Deno.Conn;
  server: FairConn;
}

async function openPairs(count: number): Promise<{
  pairs: Pair[];
  close(): void;
}> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pairs: Pair[] = [];
  for (let index = 0; index < count; index++) {
    const [client, accepted] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    pairs.push({ client, server: new FairConn(accepted) });
  }
  return {
    pairs,
    close() {
      for (const { client, server } of pairs) {
        server.close();
        client.close();
      }
      listener.close();
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads what arrives for a pair (settles once the server side is closed). */
function readOnce(pair: Pair, buffer: Uint8Array): Promise<number | null> {
  return pair.server.read(buffer);
}

/**
 * Every server side but the first reads (its client stays silent); the first
 * reads once after the others have waited past the stale mark, and gets a
 * byte. Returns the first pair, its buffer, and the idle reads to await.
 */
async function firstReadAfterStaleMark(pairs: Pair[]): Promise<{
  first: Pair;
  buffer: Uint8Array;
  idle: Promise<number | null>[];
}> {
  const idle = pairs.slice(1).map((pair) =>
    readOnce(pair, new Uint8Array(16)).catch(() => null)
  );
  const first = pairs[0];
  const buffer = new Uint8Array(16);
  const firstRead = readOnce(first, buffer);
  await delay(STALE_WAIT_MS);
  await first.client.write(new Uint8Array([1]));
  assert.equal(await firstRead, 1);
  return { first, buffer, idle };
}

describe("fair reads of accepted Deno connections", () => {
  test("with 300 reads pending and one stale, a new read waits for the drain, then reads", async () => {
    const { pairs, close } = await openPairs(300);
    const { first, buffer, idle } = await firstReadAfterStaleMark(pairs);
    // Its next read finds 299 reads waiting past the mark: it is held.
    const secondRead = readOnce(first, buffer);
    assert.equal(readScheduleState().held, 1);
    await first.client.write(new Uint8Array([2]));
    assert.equal(await secondRead, 1);
    assert.equal(buffer[0], 2);
    assert.equal(readScheduleState().held, 0);
    close();
    await Promise.all(idle);
  });

  test("after a drain that found the pending reads quiet, the next read is not held", async () => {
    const { pairs, close } = await openPairs(300);
    const { first, buffer, idle } = await firstReadAfterStaleMark(pairs);
    // Held by a drain in which no read completes: the 299 others are quiet.
    const heldRead = readOnce(first, buffer);
    assert.equal(readScheduleState().held, 1);
    await first.client.write(new Uint8Array([2]));
    assert.equal(await heldRead, 1);
    // The 299 reads are still past the stale mark, but no new drain starts
    // to hold this busy connection's next read.
    const nextRead = readOnce(first, buffer);
    assert.equal(readScheduleState().held, 0);
    await first.client.write(new Uint8Array([3]));
    assert.equal(await nextRead, 1);
    assert.equal(buffer[0], 3);
    close();
    await Promise.all(idle);
  });

  test("with few reads pending, no read is held however long they waited", async () => {
    const { pairs, close } = await openPairs(10);
    const { first, buffer, idle } = await firstReadAfterStaleMark(pairs);
    const secondRead = readOnce(first, buffer);
    assert.equal(readScheduleState().held, 0);
    await first.client.write(new Uint8Array([2]));
    assert.equal(await secondRead, 1);
    close();
    await Promise.all(idle);
  });

  test("a held read of a connection closed during the drain fails", async () => {
    const { pairs, close } = await openPairs(300);
    const { first, buffer, idle } = await firstReadAfterStaleMark(pairs);
    const held = readOnce(first, buffer);
    assert.equal(readScheduleState().held, 1);
    first.server.close();
    await assert.rejects(held, /closed/);
    close();
    await Promise.all(idle);
  });

  test("reads of 30,000 quiet connections completing at their own pace do not keep a busy connection's read held", async () => {
    const busy = new StandInConn();
    const first = busy.fair.read(new Uint8Array(16));
    busy.complete(1);
    await first;
    const quiet: StandInConn[] = [];
    for (let index = 0; index < 30_000; index++) {
      const conn = new StandInConn();
      quiet.push(conn);
      void conn.fair.read(new Uint8Array(16)).catch(() => null);
    }
    // (If issuing them took past the stale mark, a drain started and ended
    // meanwhile, with its pause.)
    await delay(STALE_WAIT_MS);
    assert.equal(readScheduleState().held, 0);
    // Their reads are past the stale mark: the busy one's next read starts a
    // drain and is held.
    const held = busy.fair.read(new Uint8Array(16));
    busy.complete(1);
    assert.equal(readScheduleState().held, 1);
    // 16 of them complete per millisecond, at a steady pace whatever the
    // timers' delays (a trickle beside the 30,000 pending, which would take
    // seconds to come out at that pace); each reads again at once, as a
    // connection does.
    let completed = 0;
    let released = -1;
    void held.then(() => released = completed);
    const start = performance.now();
    while (released < 0 && completed < quiet.length) {
      await delay(1);
      const due = Math.min(
        quiet.length,
        Math.floor((performance.now() - start) * 16),
      );
      while (completed < due) {
        const conn = quiet[completed++];
        conn.complete(1);
        void conn.fair.read(new Uint8Array(16)).catch(() => null);
      }
    }
    await held;
    assert.ok(
      released < 3_000,
      `the busy read came after ${released} of ${quiet.length} quiet reads`,
    );
    for (const conn of [...quiet, busy]) conn.fair.close();
  });
});

/** A stand-in for an accepted Deno.Conn whose read completes when told. */
class StandInConn {
  readonly fair: FairConn;
  #pending: PromiseWithResolvers<number | null> | null = null;
  #completedEarly: number | null = null;

  constructor() {
    this.fair = new FairConn(this as unknown as Deno.Conn);
  }

  read(_buffer: Uint8Array): Promise<number | null> {
    if (this.#completedEarly !== null) {
      const count = this.#completedEarly;
      this.#completedEarly = null;
      return Promise.resolve(count);
    }
    this.#pending = Promise.withResolvers();
    return this.#pending.promise;
  }

  /** Completes the pending read, or the next one if none is pending. */
  complete(count: number): void {
    const pending = this.#pending;
    this.#pending = null;
    if (pending === null) this.#completedEarly = count;
    else pending.resolve(count);
  }

  close(): void {
    this.#pending?.reject(new Error("closed"));
    this.#pending = null;
  }
}
