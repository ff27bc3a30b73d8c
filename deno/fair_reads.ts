/**
 * Reads of accepted `Deno.Conn`s (and `Deno.TlsConn`s), scheduled so that
 * with thousands of busy connections none is left waiting while others are
 * served again and again.
 *
 * Every `Deno.Conn.read` is an async op, and Deno completes them from one
 * queue: with more busy connections than it completes per turn of its event
 * loop, a read issued again right after its previous one completed (its
 * peer's next message already there) is completed first, turn after turn,
 * while reads that were already waiting stay waiting with their bytes in
 * the kernel (docs/PERFORMANCE.md, "Why Deno.Conn starves"). When they are
 * not issued again, Deno completes the waiting ones within milliseconds.
 *
 * So once many reads are pending and one of them has waited
 * {@linkcode STALE_READ_MS}, new reads are held back here (a drain) until
 * a look, {@linkcode QUIET_MS} after the previous one, saw reads complete
 * at a trickle only (or {@linkcode QUIET_LOOKS} looks in a row did, while a
 * read issued before the drain is still pending): every connection whose
 * bytes were waiting got them meanwhile, then the held reads go out in the
 * order they came. A drain that saw only a trickle from its start found
 * quiet connections, not starved ones (a chat's users between messages):
 * it ends, and none starts for {@linkcode DRAIN_BACKOFF_MS}, so that a busy
 * connection among them is not held again and again. Reads pending
 * {@linkcode IDLE_READ_MS} belong to idle connections and are no longer
 * watched. With fewer than {@linkcode WATCHED_READS_BEFORE_DRAINS} reads
 * pending nothing is held.
 *
 * @module
 */

import { Fifo } from "../protocol/fifo.ts";
import { IssueOrder } from "./issue_order.ts";
import { markPoolSafe, type NetAddr } from "../socket/transport.ts";
import type { AcceptedConn } from "../server/listener.ts";

/** Reads pending before a drain may start: 256. */
const WATCHED_READS_BEFORE_DRAINS = 256;

/** A read pending this long, while others complete, starts a drain: 50 ms. */
const STALE_READ_MS = 50;

/** A read pending this long is an idle connection's: no longer watched,
 * 1 s. */
const IDLE_READ_MS = 1000;

/** Between two looks for completed reads during a drain: 3 ms. */
const QUIET_MS = 3;

/** While a read issued before the drain is still pending, the drain ends
 * only after this many quiet looks in a row: 3. One quiet look can come
 * from a turn of the event loop that completed only writes while thousands
 * of reads still waited (docs/PERFORMANCE.md). */
const QUIET_LOOKS = 3;

/** A look is quiet when fewer reads per millisecond completed since the
 * previous one: 10, or more with many reads pending (below). Quiet
 * connections' messages trickle in at their own pace, drain or not; a
 * backlog of starved reads comes out faster. */
const STARVED_READS_PER_MS = 10;

/** A look is also quiet when reads complete too slowly to bring out every
 * read pending at the drain's start within this time: 1 s. Tens of
 * thousands of quiet connections complete more than 10 reads per ms
 * between them, and would otherwise keep a drain going for seconds. */
const BACKLOG_OUT_MS = 1000;

/** After a drain whose looks were all quiet (what was pending past the
 * stale mark was likely quiet connections', nobody starved), no drain
 * starts for this long: 100 ms. */
const DRAIN_BACKOFF_MS = 100;

const CLOCK_START = Date.now();

/** Milliseconds since this module loaded: `Date.now()` needs no op call
 * (`performance.now()` does, once per read here), and a small integer
 * stores in the map without a heap number. */
function clock(): number {
  return Date.now() - CLOCK_START;
}

/** A read held back during a drain. */
interface HeldRead {
  conn: FairConn;
  buffer: Uint8Array;
  resolve(count: number | null): void;
  reject(error: unknown): void;
}

/** The process-wide schedule of the reads of every {@linkcode FairConn}. */
class ReadSchedule {
  /**
   * When each connection's last read was issued, oldest first. A
   * connection reads one chunk at a time, so its previous read has
   * completed when it reads again: the entry is renewed then, and removed
   * when the connection closes or has been idle {@linkcode IDLE_READ_MS}.
   */
  readonly #issued = new IssueOrder<FairConn>();
  readonly #held = new Fifo<HeldRead>();
  #draining = false;
  /** Reads held back so far, and at the last look. */
  #heldTotal = 0;
  #heldAtLastLook = 0;
  /** When the last look (or the drain's start) was ({@linkcode clock}). */
  #lastLookAt = 0;
  /** Whether a look of the drain in progress was not quiet, and the quiet
   * looks in a row (all of its looks so far while none was busy). */
  #sawBusyLook = false;
  #quietLooks = 0;
  /** When the drain in progress started ({@linkcode clock}). */
  #drainStartedAt = 0;
  /** Completed reads per millisecond that make a look of it busy. */
  #busyReadsPerMs = STARVED_READS_PER_MS;
  /** No drain starts before this ({@linkcode clock}). */
  #noDrainBefore = 0;
  #timerSet = false;

  /** Reads held back now. */
  get held(): number {
    return this.#held.length;
  }

  /** Connections whose reads are watched now. */
  get watched(): number {
    return this.#issued.size;
  }

  /**
   * Reads for `conn` now, or once the drain in progress ends.
   *
   * @param conn the connection
   * @param buffer where to put the bytes
   * @returns what `Deno.Conn.read` returns
   */
  read(conn: FairConn, buffer: Uint8Array): Promise<number | null> {
    const issued = this.#issued;
    issued.delete(conn);
    if (!this.#draining && issued.size >= WATCHED_READS_BEFORE_DRAINS) {
      const now = clock();
      if (now >= this.#noDrainBefore && this.#oldestWait(now) > STALE_READ_MS) {
        this.#startDrain(now);
      }
    }
    if (!this.#draining) return this.#issue(conn, buffer);
    this.#heldTotal++;
    return new Promise((resolve, reject) => {
      this.#held.push({ conn, buffer, resolve, reject });
    });
  }

  /**
   * `conn` was closed: its reads are no longer watched.
   *
   * @param conn the connection
   */
  closed(conn: FairConn): void {
    this.#issued.delete(conn);
  }

  #issue(conn: FairConn, buffer: Uint8Array): Promise<number | null> {
    this.#issued.set(conn, clock());
    return conn.readNow(buffer);
  }

  /** How long the oldest watched read has waited; forgets idle ones. */
  #oldestWait(now: number): number {
    const issued = this.#issued;
    for (let at = issued.oldest(); at !== undefined; at = issued.oldest()) {
      const wait = now - at;
      if (wait < IDLE_READ_MS) return wait;
      issued.deleteOldest();
    }
    return 0;
  }

  /** Whether the oldest watched read was issued before the drain began
   * (and is not an idle connection's). */
  #readsLeftFromBeforeDrain(): boolean {
    const issuedAt = this.#issued.oldest();
    if (issuedAt === undefined) return false;
    return issuedAt <= this.#drainStartedAt &&
      clock() - issuedAt < IDLE_READ_MS;
  }

  #startDrain(now: number): void {
    this.#draining = true;
    this.#drainStartedAt = now;
    this.#busyReadsPerMs = Math.max(
      STARVED_READS_PER_MS,
      this.#issued.size / BACKLOG_OUT_MS,
    );
    this.#lastLookAt = now;
    this.#heldAtLastLook = this.#heldTotal;
    this.#sawBusyLook = false;
    this.#quietLooks = 0;
    this.#armTimer();
  }

  #armTimer(): void {
    if (this.#timerSet) return;
    this.#timerSet = true;
    const timer = setTimeout(() => this.#checkQuiet(), QUIET_MS);
    Deno.unrefTimer(timer);
  }

  /**
   * Ends the drain once a look saw reads complete at a trickle only (fewer
   * than {@linkcode STARVED_READS_PER_MS} per millisecond since the
   * previous look, or too few to bring out the reads pending at the start
   * within {@linkcode BACKLOG_OUT_MS}; a completed read is followed at once by the
   * connection's next read, which is held): timers run before the event
   * loop hands over completed reads, so two looks bracket at least one such
   * hand-over, however long a turn took, and the first look never ends it.
   * While reads from before the drain are still pending it takes
   * {@linkcode QUIET_LOOKS} quiet looks in a row. A drain whose looks were
   * all quiet found nobody starved: it ends after {@linkcode QUIET_LOOKS}
   * of them, and no drain starts for {@linkcode DRAIN_BACKOFF_MS}, or a
   * busy connection's reads would be held again and again for nothing.
   */
  #checkQuiet(): void {
    this.#timerSet = false;
    const now = clock();
    const completed = this.#heldTotal - this.#heldAtLastLook;
    const elapsed = Math.max(now - this.#lastLookAt, 1);
    this.#heldAtLastLook = this.#heldTotal;
    this.#lastLookAt = now;
    if (completed >= this.#busyReadsPerMs * elapsed) {
      this.#sawBusyLook = true;
      this.#quietLooks = 0;
      this.#armTimer();
      return;
    }
    // A drain that never saw a busy look takes QUIET_LOOKS looks to judge.
    const mayWait = !this.#sawBusyLook || this.#readsLeftFromBeforeDrain();
    if (++this.#quietLooks < QUIET_LOOKS && mayWait) {
      this.#armTimer();
      return;
    }
    if (!this.#sawBusyLook) this.#noDrainBefore = now + DRAIN_BACKOFF_MS;
    this.#endDrain();
  }

  /** Ends the drain: the held reads go out in the order they came. */
  #endDrain(): void {
    this.#draining = false;
    const held = this.#held;
    for (let read = held.shift(); read !== undefined; read = held.shift()) {
      if (read.conn.closed) {
        read.reject(new Error("the connection is closed"));
        continue;
      }
      this.#issue(read.conn, read.buffer).then(read.resolve, read.reject);
    }
  }
}

const schedule = new ReadSchedule();

/**
 * How many reads wait for a drain to end, and how many connections' reads
 * are watched, in this process.
 *
 * @returns the counts
 */
export function readScheduleState(): { held: number; watched: number } {
  return { held: schedule.held, watched: schedule.watched };
}

/**
 * An accepted `Deno.Conn` (or `Deno.TlsConn`) whose reads go through the
 * process-wide schedule above; writes and closing go straight through.
 */
export class FairConn implements AcceptedConn {
  readonly #conn: Deno.Conn;
  #closed = false;

  /**
   * @param conn the accepted connection; only this wrapper may use it
   */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    // Writes go to Deno's write op, which is done with the bytes once it
    // resolves.
    markPoolSafe(this);
  }

  /** The client's address. */
  get remoteAddr(): NetAddr {
    return this.#conn.remoteAddr as NetAddr;
  }

  /** Whether {@linkcode FairConn.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads into `buffer`, when the schedule lets it. One read at a time.
   *
   * @param buffer where to put the bytes
   * @returns how many bytes were read, or null at the end of the stream
   */
  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) {
      return Promise.reject(new Error("the connection is closed"));
    }
    return schedule.read(this, buffer);
  }

  /**
   * Issues the read now: for the schedule only.
   *
   * @param buffer where to put the bytes
   * @returns what `Deno.Conn.read` returns
   */
  readNow(buffer: Uint8Array): Promise<number | null> {
    return this.#conn.read(buffer);
  }

  /**
   * Writes some or all of `data`.
   *
   * @param data the bytes
   * @returns how many were written
   */
  write(data: Uint8Array): Promise<number> {
    return this.#conn.write(data);
  }

  /** Ends the sending side (TCP FIN); reading goes on. */
  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  /** Closes the connection; a pending or held read fails. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    schedule.closed(this);
    this.#conn.close();
  }
}
