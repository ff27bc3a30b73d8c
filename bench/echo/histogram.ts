/**
 * A latency histogram in microseconds with log-linear buckets (1 µs
 * resolution below 64 µs, then 32 buckets per power of two, about 3%
 * precision), small enough to send between processes as JSON.
 *
 * @module
 */

/** Buckets below this value are 1 µs wide. */
const LINEAR_LIMIT = 64;
/** Buckets per power of two above {@linkcode LINEAR_LIMIT}. */
const SUB_BUCKETS = 32;
/** Powers of two covered above the linear part (up to about 2^40 µs). */
const OCTAVES = 34;
const BUCKET_COUNT = LINEAR_LIMIT + OCTAVES * SUB_BUCKETS;

/** Sparse form for JSON: pairs of bucket index and count. */
export type HistogramData = Array<[number, number]>;

function bucketOf(micros: number): number {
  const value = Math.max(0, Math.floor(micros));
  if (value < LINEAR_LIMIT) return value;
  const exponent = Math.floor(Math.log2(value)); // >= 6
  const shift = exponent - 5;
  const sub = Math.floor(value / 2 ** shift) - SUB_BUCKETS; // 0..31
  const index = LINEAR_LIMIT + (exponent - 6) * SUB_BUCKETS + sub;
  return Math.min(index, BUCKET_COUNT - 1);
}

/** The middle of a bucket's range, in microseconds. */
function bucketMiddle(index: number): number {
  if (index < LINEAR_LIMIT) return index + 0.5;
  const octave = Math.floor((index - LINEAR_LIMIT) / SUB_BUCKETS);
  const sub = (index - LINEAR_LIMIT) % SUB_BUCKETS;
  const shift = octave + 1;
  const low = (SUB_BUCKETS + sub) * 2 ** shift;
  return low + 2 ** shift / 2;
}

/** Counts of latencies per bucket. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKET_COUNT);
  #total = 0;

  /** How many latencies were recorded. */
  get total(): number {
    return this.#total;
  }

  /** Records one latency in milliseconds. */
  recordMillis(millis: number): void {
    this.#counts[bucketOf(millis * 1000)]++;
    this.#total++;
  }

  /** Forgets everything recorded. */
  clear(): void {
    this.#counts.fill(0);
    this.#total = 0;
  }

  /** Adds another histogram's counts (from {@linkcode toData}). */
  add(data: HistogramData): void {
    for (const [index, count] of data) {
      this.#counts[index] += count;
      this.#total += count;
    }
  }

  /** The non-empty buckets. */
  toData(): HistogramData {
    const data: HistogramData = [];
    for (let index = 0; index < BUCKET_COUNT; index++) {
      if (this.#counts[index] > 0) data.push([index, this.#counts[index]]);
    }
    return data;
  }

  /**
   * The latency below which `fraction` of the recorded ones lie.
   *
   * @param fraction 0 to 1 (0.5 for the median, 0.99 for p99)
   * @returns milliseconds, or NaN when nothing was recorded
   */
  percentileMillis(fraction: number): number {
    if (this.#total === 0) return NaN;
    const wanted = Math.max(1, Math.ceil(this.#total * fraction));
    let seen = 0;
    for (let index = 0; index < BUCKET_COUNT; index++) {
      seen += this.#counts[index];
      if (seen >= wanted) return bucketMiddle(index) / 1000;
    }
    return bucketMiddle(BUCKET_COUNT - 1) / 1000;
  }
}
