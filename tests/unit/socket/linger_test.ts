import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { lingerThenClose } from "../../../socket/linger.ts";
import type { ByteConn } from "../../../socket/transport.ts";
import { DEFAULTS } from "../../../defaults.ts";

/** A connection that records what was done to it, in order. */
function recordingConn(halfClosable: boolean): {
  conn: ByteConn;
  steps: string[];
} {
  const steps: string[] = [];
  const conn: ByteConn = {
    read: () => Promise.reject(new Error("read through the callback only")),
    write: (data) => Promise.resolve(data.length),
    close: () => void steps.push("close"),
  };
  if (halfClosable) {
    conn.closeWrite = () => {
      steps.push("closeWrite");
      return Promise.resolve();
    };
  }
  return { conn, steps };
}

describe("lingerThenClose", () => {
  test("without closeWrite, closes at once and reads nothing", async () => {
    const { conn, steps } = recordingConn(false);
    let reads = 0;
    await lingerThenClose(conn, () => {
      reads++;
      return Promise.resolve(null);
    }, conn.close);
    assert.deepEqual(steps, ["close"]);
    assert.equal(reads, 0);
  });

  test("ends the sending side before its first await", () => {
    const { conn, steps } = recordingConn(true);
    const done = lingerThenClose(conn, () => Promise.resolve(null), conn.close);
    assert.deepEqual(steps, ["closeWrite"]);
    return done;
  });

  test("closes once the peer ends its side", async () => {
    const { conn, steps } = recordingConn(true);
    const counts = [100, 200, null];
    await lingerThenClose(
      conn,
      () => Promise.resolve(counts.shift() ?? null),
      conn.close,
    );
    assert.deepEqual(steps, ["closeWrite", "close"]);
    assert.equal(counts.length, 0);
  });

  test("stops reading after DEFAULTS.limits.lingerMaxBytes", async () => {
    const { conn, steps } = recordingConn(true);
    const chunk = 16 * 1024;
    let reads = 0;
    await lingerThenClose(conn, () => {
      reads++;
      return Promise.resolve(chunk);
    }, conn.close);
    assert.deepEqual(steps, ["closeWrite", "close"]);
    assert.equal(reads, Math.ceil(DEFAULTS.limits.lingerMaxBytes / chunk));
  });

  test("a failed read closes", async () => {
    const { conn, steps } = recordingConn(true);
    await lingerThenClose(
      conn,
      () => Promise.reject(new Error("reset")),
      conn.close,
    );
    assert.deepEqual(steps, ["closeWrite", "close"]);
  });
});
