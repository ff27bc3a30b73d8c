/**
 * The liveness timers of one connection: a periodic ping that drops a peer
 * which sent nothing since the previous ping, and a silence timer that fires
 * when nothing arrived for a while. `received()` only records a flag and a
 * time, so the hot read path never touches a timer.
 *
 * Pings of {@linkcode SHARED_PING_MIN_INTERVAL} and longer (the default,
 * 30 s) come from one {@linkcode PingTicker} per interval shared by every
 * connection of the process instead of a `setInterval` each: a runtime
 * timer costs memory per connection (docs/PERFORMANCE.md, issue 15).
 * Shorter intervals keep a timer of their own.
 *
 * @module
 */

/** What {@linkcode Keepalive} asks its connection to do. */
export interface KeepaliveHooks {
  /** Send a ping now. */
  keepalivePing(): void;
  /** The peer did not answer: drop the connection. */
  keepaliveDrop(error: Error): void;
  /** Nothing arrived for the silence timeout: close the connection. */
  keepaliveSilent(): void;
  /**
   * True while the connection does not read (a slow consumer): silence is
   * then not the peer's fault.
   */
  keepalivePaused(): boolean;
}

/** Ping intervals from this long (ms) share a {@linkcode PingTicker}:
 * 1,000. */
export const SHARED_PING_MIN_INTERVAL = 1000;

/** Slots a {@linkcode PingTicker} cycles through per interval: 8. */
const PING_SLOTS = 8;

/**
 * One timer for every connection pinging at the same interval. It ticks
 * {@linkcode PING_SLOTS} times per interval and each tick pings the
 * connections of one slot, so the pings of thousands of connections are
 * spread over the interval. A connection joins the slot the last tick
 * served: its first ping comes 7/8 to 8/8 of an interval later, then one
 * every interval, as with a timer of its own.
 */
class PingTicker {
  readonly #interval: number;
  readonly #slots: Set<Keepalive>[] = [];
  #members = 0;
  /** Ticks so far; the last one served slot `#ticks % PING_SLOTS`. */
  #ticks = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(interval: number) {
    this.#interval = interval;
    for (let slot = 0; slot < PING_SLOTS; slot++) this.#slots.push(new Set());
  }

  /** Adds a connection; returns its slot. */
  join(keepalive: Keepalive): number {
    const slot = this.#ticks % PING_SLOTS;
    this.#slots[slot].add(keepalive);
    if (this.#members++ === 0) {
      this.#timer = setInterval(
        () => this.#tick(),
        this.#interval / PING_SLOTS,
      );
    }
    return slot;
  }

  /** Removes a connection from its slot; the last one stops the timer. */
  leave(keepalive: Keepalive, slot: number): void {
    if (!this.#slots[slot].delete(keepalive)) return;
    if (--this.#members === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      pingTickers.delete(this.#interval);
    }
  }

  #tick(): void {
    this.#ticks++;
    // Copied: a ping may close a connection (leave) or open one (join).
    const due = [...this.#slots[this.#ticks % PING_SLOTS]];
    for (const keepalive of due) keepalive.pingTick();
  }
}

/** The shared tickers, by interval. */
const pingTickers = new Map<number, PingTicker>();

/** Ping and silence timers; both off when their interval is 0. */
export class Keepalive {
  readonly #pingInterval: number;
  readonly #silenceTimeout: number;
  readonly #hooks: KeepaliveHooks;
  /** The own timer of a short interval. */
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  /** The shared ticker of a long interval, and this connection's slot. */
  #ticker: PingTicker | null = null;
  #slot = 0;
  #silenceTimer: ReturnType<typeof setTimeout> | undefined;
  #receivedSincePing = false;
  #pingOutstanding = false;
  #lastReceiveTime = 0;
  #stopped = false;

  /**
   * @param pingInterval ms between pings, 0 for none
   * @param silenceTimeout ms of silence before `keepaliveSilent`, 0 for none
   * @param hooks what to do when a timer fires
   */
  constructor(
    pingInterval: number,
    silenceTimeout: number,
    hooks: KeepaliveHooks,
  ) {
    this.#pingInterval = pingInterval;
    this.#silenceTimeout = silenceTimeout;
    this.#hooks = hooks;
  }

  /** Starts the timers. */
  start(): void {
    if (this.#stopped) return;
    const interval = this.#pingInterval;
    if (interval >= SHARED_PING_MIN_INTERVAL && this.#ticker === null) {
      let ticker = pingTickers.get(interval);
      if (ticker === undefined) {
        ticker = new PingTicker(interval);
        pingTickers.set(interval, ticker);
      }
      this.#slot = ticker.join(this);
      this.#ticker = ticker;
    } else if (interval > 0 && this.#pingTimer === undefined) {
      this.#pingTimer = setInterval(() => this.pingTick(), interval);
    }
    if (this.#silenceTimeout > 0 && this.#silenceTimer === undefined) {
      this.#lastReceiveTime = Date.now();
      this.#scheduleSilenceCheck(this.#silenceTimeout);
    }
  }

  /** Records that bytes arrived. */
  received(): void {
    this.#receivedSincePing = true;
    if (this.#silenceTimeout > 0) this.#lastReceiveTime = Date.now();
  }

  /** Clears both timers for good. */
  stop(): void {
    this.#stopped = true;
    this.#ticker?.leave(this, this.#slot);
    this.#ticker = null;
    clearInterval(this.#pingTimer);
    clearTimeout(this.#silenceTimer);
    this.#pingTimer = undefined;
    this.#silenceTimer = undefined;
  }

  /** A ping is due (from the timer or the shared ticker). Internal. */
  pingTick(): void {
    if (this.#stopped) return;
    if (this.#hooks.keepalivePaused()) {
      this.#pingOutstanding = false;
    } else if (this.#pingOutstanding && !this.#receivedSincePing) {
      this.stop();
      this.#hooks.keepaliveDrop(
        new Error(`no pong within ${this.#pingInterval} ms`),
      );
      return;
    }
    this.#receivedSincePing = false;
    this.#pingOutstanding = true;
    this.#hooks.keepalivePing();
  }

  #scheduleSilenceCheck(delay: number): void {
    this.#silenceTimer = setTimeout(() => this.#onSilenceCheck(), delay);
  }

  #onSilenceCheck(): void {
    this.#silenceTimer = undefined;
    if (this.#stopped) return;
    const now = Date.now();
    if (this.#hooks.keepalivePaused()) this.#lastReceiveTime = now;
    const quiet = now - this.#lastReceiveTime;
    if (quiet < this.#silenceTimeout) {
      this.#scheduleSilenceCheck(this.#silenceTimeout - quiet);
      return;
    }
    this.stop();
    this.#hooks.keepaliveSilent();
  }
}
