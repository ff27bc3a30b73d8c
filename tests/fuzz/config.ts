/**
 * How many cases each fuzz property runs, read from the environment so that
 * CI stays bounded while `deno task fuzz <count>` can run for hours.
 *
 * - `FUZZ_RUNS`: cases per property (default {@linkcode DEFAULT_FUZZ_RUNS}).
 *   Properties that are much more expensive per case (async handshakes,
 *   16 KiB heads) run a fixed fraction of it, never fewer than a floor.
 * - `FUZZ_SEED`: replay a run; fast-check prints the seed (and the path of
 *   the smallest failing case) when a property fails.
 *
 * @module
 */
import process from "node:process";

/** Cases per property when `FUZZ_RUNS` is not set: sized so the whole fuzz
 * set stays well under two minutes per runtime on a 2-core CI machine. */
export const DEFAULT_FUZZ_RUNS = 20_000;

function readInteger(name: string, min: number): number | undefined {
  const text = process.env[name];
  if (text === undefined || text.trim() === "") return undefined;
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${text}`);
  }
  return value;
}

/** Cases per property: `FUZZ_RUNS`, or {@linkcode DEFAULT_FUZZ_RUNS}. */
export const FUZZ_RUNS: number = readInteger("FUZZ_RUNS", 1) ??
  DEFAULT_FUZZ_RUNS;

/** The seed to replay from `FUZZ_SEED`, or undefined for a fresh one. */
export const FUZZ_SEED: number | undefined = readInteger(
  "FUZZ_SEED",
  -(2 ** 31),
);

/**
 * Cases for one property: `FUZZ_RUNS` divided by `divisor` (for properties
 * whose cases cost that many times more), at least `floor`.
 *
 * @param divisor how many times more one case costs than a frame stream
 * @param floor the fewest cases worth running
 * @returns the number of cases
 */
export function runs(divisor = 1, floor = 50): number {
  return Math.max(floor, Math.floor(FUZZ_RUNS / divisor));
}

/** The fast-check parameters of a property running `numRuns` cases. */
export interface FuzzParameters {
  /** How many cases to run. */
  numRuns: number;
  /** The seed, when replaying. */
  seed?: number;
}

/**
 * fast-check parameters: the case count and, when replaying, the seed.
 *
 * @param numRuns how many cases to run
 * @returns parameters for `fc.assert`
 */
export function parameters(numRuns: number): FuzzParameters {
  return FUZZ_SEED === undefined ? { numRuns } : { numRuns, seed: FUZZ_SEED };
}
