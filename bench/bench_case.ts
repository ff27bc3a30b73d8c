/**
 * One benchmarked function, described once and run two ways: registered
 * with `Deno.bench` (the `*_bench.ts` files) and timed with
 * `performance.now()` by `summary.ts`, which turns it into messages/s and
 * MB/s.
 *
 * @module
 */

/**
 * Who wrote the code a case measures; a `floor` is the least work any
 * implementation giving the same result has to do (no ratio of its own).
 */
export type Side = "ws" | "ours" | "ceiling" | "floor";

/** A function to time, with what one call of it processes. */
export interface BenchCase {
  /** The `Deno.bench` group; cases in a group work on the same bytes. */
  group: string;
  /** The bench name within the group. */
  name: string;
  /** Whose code this is; the group's `ws` case is the baseline. */
  side: Side;
  /** Whether this is the group's baseline (one `ws` case per group). */
  baseline?: boolean;
  /** Messages (frames, texts, keys) one call processes. */
  messagesPerCall: number;
  /** Payload bytes one call processes. */
  bytesPerCall: number;
  /** The work. Throws if it did not process what it should have. */
  fn: () => void | Promise<void>;
}

/** Registers every case with `Deno.bench`. */
export function registerBenches(cases: readonly BenchCase[]): void {
  for (const benchCase of cases) {
    const perCall = benchCase.messagesPerCall === 1
      ? ""
      : ` [${benchCase.messagesPerCall} msgs/iter]`;
    Deno.bench({
      name: `${benchCase.name}${perCall}`,
      group: benchCase.group,
      baseline: benchCase.baseline === true,
      fn: benchCase.fn,
    });
  }
}
