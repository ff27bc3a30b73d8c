/**
 * The echo benchmark's profile summary keeps only the samples of the
 * measurement window, whichever clock the profile counts in: Deno's
 * profiles count monotonic microseconds, Bun's wall-clock ones.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  addSelfTimes,
  type FunctionTime,
  type MeasuredWindow,
} from "../../../bench/echo/profile_summary.ts";

/** A profile of two functions: `before` for 10 samples, then `inside` for
 * 10, one every 1,000 µs from `startTime`. */
function profileFrom(startTime: number) {
  const frame = (functionName: string) => ({
    functionName,
    url: "file:///x.ts",
    lineNumber: 0,
    columnNumber: 0,
  });
  return {
    startTime,
    nodes: [
      { id: 1, callFrame: frame("before") },
      { id: 2, callFrame: frame("inside") },
    ],
    samples: [...Array(10).fill(1), ...Array(10).fill(2)],
    timeDeltas: Array(20).fill(1000),
  };
}

const MONOTONIC_START = 5_000_000_000;
const EPOCH_START = 1_796_000_000_000_000;

/** The window covers the last ten samples, in both clocks. */
const WINDOW: MeasuredWindow = {
  startMicros: MONOTONIC_START + 10_500,
  endMicros: MONOTONIC_START + 20_500,
  startEpochMicros: EPOCH_START + 10_500,
  endEpochMicros: EPOCH_START + 20_500,
};

function namesCounted(startTime: number): string[] {
  const totals = new Map<string, FunctionTime>();
  addSelfTimes(profileFrom(startTime), totals, WINDOW);
  return [...totals.keys()].map((key) => key.split(" ")[0]);
}

describe("profile_summary: the measurement window", () => {
  test("a profile in monotonic microseconds (Deno) keeps the window's samples", () => {
    assert.deepEqual(namesCounted(MONOTONIC_START), ["inside"]);
  });

  test("a profile in wall-clock microseconds (Bun) keeps the window's samples", () => {
    assert.deepEqual(namesCounted(EPOCH_START), ["inside"]);
  });
});
