/**
 * The echo benchmark's fairness target shows the mean wait Little's law
 * gives (messages in flight over echoes per second), so a cell where no
 * order of service could keep every wait under 1 s says so.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type Cell,
  formatTargets,
  meanWaitMs,
  type RunResult,
} from "../../../bench/echo/report.ts";

function run(
  server: string,
  baseline: string | null,
  cell: Cell,
  messagesPerSecond: number,
  slow: number,
): RunResult {
  return {
    server,
    baseline,
    impl: server,
    cell,
    client: "deno-tcp",
    messagesPerSecond,
    megabytesPerSecond: 0,
    p50: 0,
    p99: 0,
    serverCpu: 1,
    peakRss: 100,
    windowSeconds: 3,
    warmupMs: 1000,
    clientCores: 0.5,
    starved: 0,
    slow,
    longestWaitMs: 1500,
    failed: 0,
    mismatches: 0,
    note: "",
  };
}

describe("the echo benchmark's fairness target", () => {
  test("the mean wait is the messages in flight over echoes per second", () => {
    const piped: Cell = { conns: 10_000, size: 1024, mode: "pipe" };
    const roundTrip: Cell = { conns: 1000, size: 16, mode: "rt" };
    assert.equal(meanWaitMs(run("ours", "native", piped, 80_000, 0)), 2000);
    assert.equal(meanWaitMs(run("ours", "native", roundTrip, 100_000, 0)), 10);
  });

  test("a cell whose mean wait is over 1 s is marked out of reach", () => {
    const cell: Cell = { conns: 10_000, size: 1024, mode: "pipe" };
    const slowRate = formatTargets([
      run("ours", "native", cell, 80_000, 9000),
      run("native", null, cell, 40_000, 9000),
    ]);
    const fairness = slowRate.split("\n").find((line) =>
      line.includes("no connection waits")
    );
    assert.match(
      fairness ?? "",
      /MISS.*mean by Little's law 2000 ms: 1 s is out of reach/,
    );
    const fastRate = formatTargets([
      run("ours", "native", cell, 400_000, 0),
      run("native", null, cell, 40_000, 9000),
    ]);
    const passing = fastRate.split("\n").find((line) =>
      line.includes("no connection waits")
    );
    assert.match(passing ?? "", /^pass.*mean by Little's law 400 ms\)/);
  });
});
