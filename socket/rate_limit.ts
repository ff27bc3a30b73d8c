/**
 * Token buckets for the per-client caps: a bucket holds up to one second's
 * worth of tokens, refills continuously at the rate, and each event takes
 * one. The clock is injectable so that tests need no waiting.
 *
 * @module
 */

/** Milliseconds since some fixed point, like `Date.now`. */
export type Clock = () => number;

/** Admits at most `rate` events per second, in bursts of up to `rate`. */
export class TokenBucket {
  readonly #rate: number;
  readonly #now: Clock;
  #tokens: number;
  #updated: number;

  /**
   * @param rate events per second, a positive number
   * @param now the clock; default `Date.now`
   */
  constructor(rate: number, now: Clock = Date.now) {
    this.#rate = rate;
    this.#now = now;
    this.#tokens = rate;
    this.#updated = now();
  }

  /**
   * Takes a token if one is left.
   *
   * @returns whether the event is admitted
   */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether the bucket is full (nothing taken for a second or more). */
  get full(): boolean {
    this.#refill();
    return this.#tokens >= this.#rate;
  }

  /** Seconds until the next token, rounded up, at least 1. */
  get retryAfterSeconds(): number {
    this.#refill();
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#rate));
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#updated) / 1000;
    this.#updated = now;
    this.#tokens = Math.min(this.#rate, this.#tokens + elapsed * this.#rate);
  }
}

/** Buckets kept before idle (full) ones are swept. */
const SWEEP_ABOVE_BUCKETS = 4096;

/** One {@linkcode TokenBucket} per key (a client address), created on
 * demand; buckets that filled up again are dropped, so memory follows the
 * clients active in the last second. */
export class KeyedRateLimiter {
  readonly #rate: number;
  readonly #now: Clock;
  readonly #buckets = new Map<string, TokenBucket>();

  /**
   * @param rate events per second per key
   * @param now the clock; default `Date.now`
   */
  constructor(rate: number, now: Clock = Date.now) {
    this.#rate = rate;
    this.#now = now;
  }

  /** How many keys have a bucket. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes a token for `key`.
   *
   * @param key the client
   * @returns 0 when admitted, else the seconds to wait (for `Retry-After`)
   */
  take(key: string): number {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= SWEEP_ABOVE_BUCKETS) this.#sweep();
      bucket = new TokenBucket(this.#rate, this.#now);
      this.#buckets.set(key, bucket);
    }
    return bucket.take() ? 0 : bucket.retryAfterSeconds;
  }

  #sweep(): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.full) this.#buckets.delete(key);
    }
  }
}
