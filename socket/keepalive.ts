/**
 * The liveness timers of one connection: a periodic ping that drops a peer
 * which sent nothing since the previous ping, and a silence timer that fires
 * when nothing arrived for a while. One `setInterval` and one `setTimeout`
 * at most; `received()` only records a flag and a time, so the hot read path
 * never touches a timer.
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

/** Ping and silence timers; both off when their interval is 0. */
export class Keepalive {
  readonly #pingInterval: number;
  readonly #silenceTimeout: number;
  readonly #hooks: KeepaliveHooks;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
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
    if (this.#pingInterval > 0 && this.#pingTimer === undefined) {
      this.#pingTimer = setInterval(
        () => this.#onPingTick(),
        this.#pingInterval,
      );
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
    clearInterval(this.#pingTimer);
    clearTimeout(this.#silenceTimer);
    this.#pingTimer = undefined;
    this.#silenceTimer = undefined;
  }

  #onPingTick(): void {
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
