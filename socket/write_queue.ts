/**
 * The outgoing half of a connection: encoded frames wait here until the
 * transport has taken every byte. Frames queued in the same tick go out in
 * one `write` call, short writes are resumed where they stopped, and the
 * queue counts the bytes not yet written so a socket can report
 * `bufferedAmount` and enforce a cap.
 *
 * @module
 */

import { reportError } from "./events.ts";
import {
  advanceSlab,
  type FrameAllocator,
  SLAB_MAX_FRAME_BYTES,
  slabCursor,
  slabWithRoom,
} from "../frame/pool.ts";
import { Fifo } from "../protocol/fifo.ts";
import type { FrameSink } from "../protocol/protocol.ts";

/** The writing half of a byte stream; `write` resolves to the bytes taken. */
export interface ByteWriter {
  /**
   * Writes some or all of `data`.
   *
   * @param data the bytes to write
   * @returns how many bytes of `data` were written (at least 1)
   */
  write(data: Uint8Array): Promise<number>;
  /**
   * Writes `length` bytes of `data` from `offset` without waiting where it
   * can; optional, for transports that can (Bun's and Node's sockets). The
   * queue tries it first and waits on `write` only for what it did not take.
   *
   * @param data holds the bytes to write
   * @param offset where they start in `data`
   * @param length how many there are
   * @returns how many bytes the transport took at once, done with them when
   * it returns (0 when none can be taken now); or, for bytes it took but
   * still uses, a promise of the count that settles once it is done
   */
  writeNow?(
    data: Uint8Array,
    offset: number,
    length: number,
  ): number | Promise<number>;
}

/**
 * Small frames waiting together are copied into one buffer and written with
 * one call, up to this many bytes per call: 64 KiB. A frame at least this
 * large is written on its own, without a copy.
 */
export const MAX_COALESCED_WRITE = 64 * 1024;

/** What a {@linkcode WriteQueue} reports to its owner. */
export interface WriteQueueCallbacks {
  /** Every queued byte has been written. */
  writeIdle(): void;
  /** `write` rejected or misbehaved; the queue is closed and empty. */
  writeError(error: unknown): void;
  /**
   * A `write` call took `count` bytes ({@linkcode WriteQueue.bufferedAmount}
   * fell by that much).
   */
  writeTaken?(count: number): void;
}

/**
 * A FIFO of byte chunks written in order to a {@linkcode ByteWriter}, one
 * write at a time. Never rejects: failures go to `onError`.
 *
 * As a {@linkcode FrameSink} it also lets a `Protocol` encode small frames
 * in place: they are laid back to back in the shared slab of
 * `frame/pool.ts` (only for writers done with the bytes once a write
 * settles) and go out as one chunk, a view of that run.
 */
export class WriteQueue implements FrameSink {
  readonly #writer: ByteWriter;
  readonly #callbacks: WriteQueueCallbacks;
  /** Where written frames go back to. */
  readonly #frames: FrameAllocator;
  /** Chunks not yet taken for writing. */
  readonly #chunks = new Fifo<Uint8Array>();
  #queuedBytes = 0;
  /** Bytes of the batch being written that the writer has not taken yet. */
  #inFlightBytes = 0;
  /** True from the moment a write is scheduled until the queue is empty. */
  #running = false;
  /** The bytes being written, or null between batches. */
  #batch: Uint8Array | null = null;
  /** Where the batch's bytes start in {@linkcode WriteQueue.#batch}. */
  #batchStart = 0;
  /** How many bytes the batch has. */
  #batchLength = 0;
  /** Bytes of the batch the writer took so far. */
  #written = 0;
  #closed = false;
  /** Between {@linkcode hold} and {@linkcode release}: no write starts. */
  #held = false;
  /** A push while held found the queue idle: release() starts writing. */
  #startOnRelease = false;
  /** The slab the frames encoded in place lie in, or null when none is. */
  #run: Uint8Array | null = null;
  /** Where those frames start in {@linkcode WriteQueue.#run}. */
  #runStart = 0;
  /** Where they end: the next frame goes there. */
  #runEnd = 0;
  /** Where the room the last {@linkcode reserve} found starts. */
  reservedAt = 0;

  /**
   * @param writer where the bytes go
   * @param callbacks told when the queue empties or a write fails
   * @param frames the allocator the frames came from, given each frame back
   * once `writer` is done with it (its write settled, or it was copied)
   */
  constructor(
    writer: ByteWriter,
    callbacks: WriteQueueCallbacks,
    frames: FrameAllocator,
  ) {
    this.#writer = writer;
    this.#callbacks = callbacks;
    this.#frames = frames;
  }

  /** Bytes queued or being written that the writer has not taken yet. */
  get bufferedAmount(): number {
    return this.#queuedBytes + this.#inFlightBytes;
  }

  /** True when nothing is queued and no write is in progress. */
  get idle(): boolean {
    return !this.#running;
  }

  /** True once {@linkcode close} was called or a write failed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues a chunk to write after everything queued before. The first push
   * in a tick schedules the write for the end of that tick (or for
   * {@linkcode release} during a {@linkcode hold}), so pushes made in the
   * same tick share one `write` call. The queue keeps the chunk as given:
   * do not modify it afterwards.
   *
   * @param chunk the bytes to write
   */
  pushChunk(chunk: Uint8Array): void {
    if (this.#closed || chunk.length === 0) return;
    this.#endRun();
    this.#chunks.push(chunk);
    this.#queuedBytes += chunk.length;
    this.#scheduleWrite();
  }

  /**
   * FrameSink: room for a frame of at most `size` bytes after the frames
   * encoded in place before it, in the shared slab.
   *
   * @param size the most bytes the frame takes
   * @returns the slab, with room from {@linkcode reservedAt}; null for a
   * frame larger than a slab's frames, or once closed
   */
  reserve(size: number): Uint8Array | null {
    if (this.#closed || size > SLAB_MAX_FRAME_BYTES) return null;
    const slab = slabWithRoom(size);
    const cursor = slabCursor();
    if (slab !== this.#run || cursor !== this.#runEnd) {
      // Another slab, or another writer's frames since: a new run.
      this.#endRun();
      this.#run = slab;
      this.#runStart = cursor;
      this.#runEnd = cursor;
    }
    this.reservedAt = cursor;
    return slab;
  }

  /**
   * FrameSink: a frame was encoded in the room {@linkcode reserve} found,
   * up to `end`; it is queued after everything before it.
   *
   * @param end the offset just past the frame
   */
  commit(end: number): void {
    // A run's first frame makes it a piece of the slab, given back once
    // the run is written.
    advanceSlab(end, this.#runEnd === this.#runStart);
    this.#queuedBytes += end - this.#runEnd;
    this.#runEnd = end;
    this.#scheduleWrite();
  }

  /**
   * FrameSink: queues a frame in memory of its own, as
   * {@linkcode pushChunk} does.
   *
   * @param frame the frame's bytes
   */
  push(frame: Uint8Array): void {
    this.pushChunk(frame);
  }

  /** The frames encoded in place so far become one chunk. */
  #endRun(): void {
    const run = this.#run;
    if (run === null) return;
    this.#run = null;
    if (this.#runEnd > this.#runStart) {
      this.#chunks.push(run.subarray(this.#runStart, this.#runEnd));
    }
  }

  /** Something was queued: the first push of a tick schedules a write. */
  #scheduleWrite(): void {
    if (!this.#running) {
      this.#running = true;
      if (this.#held) {
        this.#startOnRelease = true;
        return;
      }
      WriteQueue.#starting[WriteQueue.#startingCount++] = this;
      if (WriteQueue.#startingCount === 1) {
        queueMicrotask(WriteQueue.#startWrites);
      }
    }
  }

  /** Queues whose first push of this tick waits for the next microtask:
   * one shared microtask starts them all (no closure per push). */
  static readonly #starting: Array<WriteQueue | undefined> = [];
  /** Queues in {@linkcode WriteQueue.#starting}; its array is kept. */
  static #startingCount = 0;

  static #startWrites(): void {
    const starting = WriteQueue.#starting;
    // A write that finishes at once may push and append: read the count
    // each time.
    for (let index = 0; index < WriteQueue.#startingCount; index++) {
      const queue = starting[index]!;
      starting[index] = undefined;
      queue.#writeNext();
    }
    WriteQueue.#startingCount = 0;
  }

  /**
   * Holds writes back until {@linkcode release}: for an owner that knows
   * when a burst of pushes ends (the replies to the messages of one read),
   * so the burst goes out in one write with no microtask scheduled for it.
   */
  hold(): void {
    this.#held = true;
  }

  /**
   * Ends a {@linkcode hold}: what was pushed meanwhile starts being
   * written now, unless a write is already in progress (it follows that
   * one).
   */
  release(): void {
    this.#held = false;
    if (!this.#startOnRelease) return;
    this.#startOnRelease = false;
    this.#writeNext();
  }

  /**
   * Drops every chunk not yet handed to the writer. The batch being written
   * (if any) is finished, so frames on the wire are never cut.
   *
   * @returns the number of bytes dropped
   */
  discardQueued(): number {
    const dropped = this.#queuedBytes;
    this.#run = null;
    this.#chunks.clear();
    this.#queuedBytes = 0;
    return dropped;
  }

  /**
   * Stops writing for good and drops everything queued. A write in progress
   * is abandoned (close the transport to end it).
   *
   * @returns the number of bytes that were never written
   */
  close(): number {
    const unwritten = this.bufferedAmount;
    this.#closed = true;
    this.discardQueued();
    this.#inFlightBytes = 0;
    return unwritten;
  }

  /**
   * Writes the batch in progress or the next one, until a write is pending
   * or the queue is empty (at once as long as `writeNow` takes the bytes).
   * No async function: a write's settling calls
   * back into this queue's two handlers, made once per queue, so a write
   * allocates only its promise's reaction (docs/PERFORMANCE.md, issue 15).
   */
  #writeNext(): void {
    const writer = this.#writer;
    for (;;) {
      if (this.#closed) return;
      let batch = this.#batch;
      if (
        batch === null && this.#chunks.length === 0 && this.#run !== null &&
        this.#runEnd > this.#runStart
      ) {
        // Only frames encoded in place wait: written from their slab as
        // they lie, with no view made when the transport takes a range.
        batch = this.#run;
        this.#run = null;
        const length = this.#runEnd - this.#runStart;
        this.#queuedBytes -= length;
        this.#startBatch(batch, this.#runStart, length);
      } else if (batch === null) {
        this.#endRun();
        if (this.#chunks.length === 0) {
          this.#running = false;
          try {
            this.#callbacks.writeIdle();
          } catch (error) {
            reportError(error);
          }
          return;
        }
        batch = this.#takeBatch();
        this.#startBatch(batch, 0, batch.length);
      }
      const from = this.#batchStart + this.#written;
      const left = this.#batchLength - this.#written;
      if (writer.writeNow !== undefined) {
        // Taken at once: no promise, and the next batch follows now.
        let taken: number | Promise<number>;
        try {
          taken = writer.writeNow(batch, from, left);
        } catch (error) {
          this.#fail(error);
          return;
        }
        if (typeof taken !== "number") {
          taken.then(this.#onWritten, this.#onWriteFailed);
          return;
        }
        if (taken !== 0) {
          if (this.#took(taken)) continue;
          return;
        }
      }
      let pending: Promise<number>;
      try {
        pending = writer.write(
          from === 0 && left === batch.length
            ? batch
            : batch.subarray(from, from + left),
        );
      } catch (error) {
        this.#fail(error);
        return;
      }
      pending.then(this.#onWritten, this.#onWriteFailed);
      return;
    }
  }

  /** `length` bytes of `batch` from `start` are the batch to write now. */
  #startBatch(batch: Uint8Array, start: number, length: number): void {
    this.#batch = batch;
    this.#batchStart = start;
    this.#batchLength = length;
    this.#written = 0;
    this.#inFlightBytes = length;
  }

  /** A write took `count` bytes of the batch in progress. */
  readonly #onWritten = (count: number): void => {
    if (this.#took(count)) this.#writeNext();
  };

  /**
   * Counts `count` bytes of the batch in progress as written.
   *
   * @returns whether to go on writing (false once closed or failed)
   */
  #took(count: number): boolean {
    if (this.#closed) return false;
    const batch = this.#batch!;
    const left = this.#batchLength - this.#written;
    if (!Number.isInteger(count) || count <= 0 || count > left) {
      this.#fail(new Error(`write reported ${count} bytes written of ${left}`));
      return false;
    }
    this.#written += count;
    this.#inFlightBytes = left - count;
    try {
      this.#callbacks.writeTaken?.(count);
    } catch (error) {
      this.#fail(error);
      return false;
    }
    if (this.#closed) return false;
    if (count === left) {
      // Written: a buffer lent for this frame, or the slab piece of this
      // run, may carry other frames now.
      this.#batch = null;
      this.#frames.release(batch);
    }
    return true;
  }

  readonly #onWriteFailed = (error: unknown): void => {
    if (!this.#closed) this.#fail(error);
  };

  /** A write failed: the queue is closed and its owner told. */
  #fail(error: unknown): void {
    this.#closed = true;
    this.#running = false;
    try {
      this.#callbacks.writeError(error);
    } catch (thrown) {
      reportError(thrown);
    }
  }

  /** Takes the next chunk, or several small ones joined into one buffer. */
  #takeBatch(): Uint8Array {
    const chunks = this.#chunks;
    const first = chunks.at(0)!;
    let count = 1;
    let total = first.length;
    if (first.length < MAX_COALESCED_WRITE) {
      for (;;) {
        const next = chunks.at(count);
        if (next === undefined || total + next.length > MAX_COALESCED_WRITE) {
          break;
        }
        total += next.length;
        count++;
      }
    }
    this.#queuedBytes -= total;
    if (count === 1) return chunks.shift()!;
    if (contiguous(chunks, count)) {
      // Frames cut one after another from the same slab: one view, no copy.
      // The view is one piece of the slab now: the first chunk's, and the
      // others are given back (the first keeps the slab from reuse).
      chunks.shift();
      for (let index = 1; index < count; index++) {
        this.#frames.release(chunks.shift()!);
      }
      return new Uint8Array(first.buffer, first.byteOffset, total);
    }
    const batch = new Uint8Array(total);
    let offset = 0;
    for (let index = 0; index < count; index++) {
      const chunk = chunks.shift()!;
      batch.set(chunk, offset);
      offset += chunk.length;
      this.#frames.release(chunk); // copied: its buffer may be reused
    }
    return batch;
  }
}

/** Whether the first `count` chunks lie back to back in one buffer. */
function contiguous(chunks: Fifo<Uint8Array>, count: number): boolean {
  let previous = chunks.at(0)!;
  for (let index = 1; index < count; index++) {
    const chunk = chunks.at(index)!;
    if (
      chunk.buffer !== previous.buffer ||
      chunk.byteOffset !== previous.byteOffset + previous.length
    ) {
      return false;
    }
    previous = chunk;
  }
  return true;
}
