/**
 * Memory for small outgoing frames, carved from shared slabs. Allocating an
 * `ArrayBuffer` costs more than encoding a small frame into it (figures in
 * docs/PERFORMANCE.md), so frames up to
 * {@linkcode SLAB_MAX_FRAME_BYTES} get a slice of a {@linkcode SLAB_BYTES}
 * slab instead, as Node.js does for small `Buffer`s.
 *
 * Each slab counts its pieces not yet given back (a frame, or a run of
 * frames a write queue encoded in place). Once that count is zero, the slab
 * is reused: the current one from its start, a full one from a short free
 * list, so steady traffic cycles through a few slabs instead of allocating
 * one every few frames (docs/PERFORMANCE.md, "Issue 15: reusing frame
 * slabs"). A piece never given back (a failed connection's queue) keeps its
 * slab's count above zero: that slab is dropped once full, as all were
 * before, and collected once nothing refers to it. Frames of different
 * connections may share a slab, but never bytes. A frame that stays queued
 * (a peer that does not read) keeps its whole slab alive, so slabs are kept
 * small.
 *
 * Larger frames, up to {@linkcode POOL_MAX_FRAME_BYTES}, are lent from a
 * pool of reusable buffers, one power-of-two size class each: a fresh large
 * `ArrayBuffer` per frame costs page faults on new memory and collector
 * pressure. The socket's write
 * queue gives a lent buffer back with {@linkcode releaseFrameBytes} once
 * the frame is written; one never given back is simply collected.
 *
 * Reuse is safe only when whoever takes the frames is done with their
 * bytes once it gives them back (a transport that still refers to them
 * would send another connection's bytes), and slabs only when nothing
 * detaches or writes past a frame. So `Protocol` allocates through a
 * {@linkcode FrameAllocator}: {@linkcode freshFrames} (its default, a
 * buffer per frame, safe whatever is done with it) or
 * {@linkcode pooledFrames} (these slabs and this pool), which the socket
 * picks only for transports known to be done with the bytes when a write
 * settles (see `socket/transport.ts`).
 *
 * @module
 */

/** Largest frame, header included, taken from a slab: 2 KiB. */
export const SLAB_MAX_FRAME_BYTES = 2 * 1024;

/** Bytes per slab: 16 KiB. */
export const SLAB_BYTES = 16 * 1024;

/** Largest frame lent from the reusable pool: 1 MiB. */
export const POOL_MAX_FRAME_BYTES = 1024 * 1024;

/** Smallest pool size class: 4 KiB (smaller frames use slabs). */
const POOL_MIN_CLASS_BYTES = 4 * 1024;

/**
 * Most bytes the pool keeps in free buffers, all size classes together
 * (each class may keep two buffers whatever their size): 8 MiB. Sends come
 * in bursts (one read's worth of messages across many connections), so a
 * small pool would mostly miss.
 */
export const POOL_FREE_BYTES = 8 * 1024 * 1024;

/**
 * Most free slabs kept for reuse: 8 (128 KiB). More are dropped.
 */
export const SLAB_FREE_COUNT = 8;

/** A slab's count of pieces handed out and not given back yet. */
interface SlabState {
  readonly bytes: Uint8Array<ArrayBuffer>;
  outstanding: number;
}

let slab = new Uint8Array(0);
let slabUsed = 0;
/** The current slab's state; the empty first slab has one of its own. */
let slabState: SlabState = { bytes: slab, outstanding: 0 };
/**
 * Every slab's state by its buffer. Weak: a slab dropped with pieces still
 * out is collected with its state.
 */
const slabStates = new WeakMap<ArrayBufferLike, SlabState>();
/** Full slabs with no piece out, to become the current slab again. */
const freeSlabs: Uint8Array<ArrayBuffer>[] = [];

/** Free buffers by size class. */
const freeBuffers = new Map<number, ArrayBuffer[]>();
/**
 * Buffers lent out and not given back yet. Weak: a frame that is never given
 * back (a failed connection's queue, a sans-I/O `Protocol` user) must not
 * keep its buffer alive.
 */
const lentBuffers = new WeakSet<ArrayBuffer>();
/** Bytes in `freeBuffers`. */
let freeBytes = 0;

/**
 * Bytes past a power of two in each pool size class: room for the largest
 * frame header (14 bytes), so that a payload of a power-of-two size (a
 * 64 KiB chunk of a file) does not take a buffer twice its size.
 */
export const POOL_CLASS_HEADER_ROOM = 16;

/**
 * The pool size class (a buffer capacity) for a frame of `size` bytes: the
 * next power of two that holds its payload, plus
 * {@linkcode POOL_CLASS_HEADER_ROOM}.
 */
function sizeClass(size: number): number {
  let payloadCapacity = POOL_MIN_CLASS_BYTES;
  while (payloadCapacity + POOL_CLASS_HEADER_ROOM < size) {
    payloadCapacity *= 2;
  }
  return payloadCapacity + POOL_CLASS_HEADER_ROOM;
}

function lend(size: number): Uint8Array {
  const capacity = sizeClass(size);
  let buffer = freeBuffers.get(capacity)?.pop();
  if (buffer === undefined) buffer = new ArrayBuffer(capacity);
  else freeBytes -= capacity;
  lentBuffers.add(buffer);
  return new Uint8Array(buffer, 0, size);
}

/**
 * Bytes for a frame of `size` bytes, which the caller overwrites entirely: a
 * slice of the current slab when the frame is small, a buffer lent from
 * the pool when it is larger, a buffer of its own past
 * {@linkcode POOL_MAX_FRAME_BYTES}.
 *
 * @param size the frame's length in bytes
 * @returns `size` writable bytes that nothing else refers to
 */
export function allocateFrameBytes(size: number): Uint8Array {
  if (size > POOL_MAX_FRAME_BYTES) return new Uint8Array(size);
  if (size > SLAB_MAX_FRAME_BYTES) return lend(size);
  slabWithRoom(size);
  const bytes = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += size;
  slabState.outstanding++;
  return bytes;
}

/**
 * The current slab, with at least `size` free bytes from
 * {@linkcode slabCursor} (a full one is replaced): for a writer that
 * encodes frames in place, back to back, and then moves the cursor past
 * them with {@linkcode advanceSlab} (no view per frame).
 *
 * @param size the most bytes the next frame takes, at most
 * {@linkcode SLAB_MAX_FRAME_BYTES}
 * @returns the slab
 */
export function slabWithRoom(size: number): Uint8Array {
  if (slabUsed + size > slab.length) {
    if (slabState.outstanding === 0 && slab.length === SLAB_BYTES) {
      freeSlabs.push(slab); // full with every piece back: reused later
    }
    let next = freeSlabs.pop();
    if (next === undefined) {
      next = new Uint8Array(SLAB_BYTES);
      slabStates.set(next.buffer, { bytes: next, outstanding: 0 });
    }
    slab = next;
    slabState = slabStates.get(next.buffer)!;
    slabUsed = 0;
  }
  return slab;
}

/**
 * Where the free bytes of the current slab start.
 *
 * @returns an offset in the slab {@linkcode slabWithRoom} returns
 */
export function slabCursor(): number {
  return slabUsed;
}

/**
 * Takes the current slab's bytes up to `end`: a frame was encoded there,
 * in the room {@linkcode slabWithRoom} found.
 *
 * @param end the offset just past the frame
 * @param newPiece true when the frame starts a piece that will be given
 * back on its own with {@linkcode releaseFrameBytes} (the first frame of a
 * run); false when it extends the piece of the frames before it
 */
export function advanceSlab(end: number, newPiece: boolean): void {
  slabUsed = end;
  if (newPiece) slabState.outstanding++;
}

/**
 * Returns the unused end of the most recent allocation to its slab (a text
 * frame is allocated for its worst-case size before it is encoded). Does
 * nothing for any other allocation.
 *
 * @param bytes what {@linkcode allocateFrameBytes} returned last
 * @param used how many of its first bytes are kept
 */
export function releaseUnusedFrameBytes(bytes: Uint8Array, used: number): void {
  if (
    bytes.buffer === slab.buffer &&
    bytes.byteOffset + bytes.length === slabUsed && used <= bytes.length
  ) {
    slabUsed -= bytes.length - used;
  }
}

/**
 * Gives a frame's memory back once the frame has been written: a lent
 * buffer goes back to the pool, a slab piece is counted off its slab (a
 * slab with none left is reused). Other buffers (user buffers, frames of
 * their own) and lent buffers given back already are ignored; a slab piece
 * must be given back exactly once.
 *
 * @param frame a frame from {@linkcode allocateFrameBytes}, or a run of
 * frames encoded in place (any view of its slab), fully written and
 * referred to by nothing any more
 */
export function releaseFrameBytes(frame: Uint8Array): void {
  const buffer = frame.buffer as ArrayBuffer;
  if (buffer === slab.buffer) {
    releaseSlabPiece(slabState); // the current slab: no lookup
    return;
  }
  if (buffer.byteLength === SLAB_BYTES) {
    const state = slabStates.get(buffer);
    if (state !== undefined) {
      releaseSlabPiece(state);
      return;
    }
  }
  if (!lentBuffers.delete(buffer)) return;
  const capacity = buffer.byteLength;
  let free = freeBuffers.get(capacity);
  if (free === undefined) {
    free = [];
    freeBuffers.set(capacity, free);
  }
  if (free.length < 2 || freeBytes + capacity <= POOL_FREE_BYTES) {
    free.push(buffer);
    freeBytes += capacity;
  }
}

/** One piece of a slab was given back. */
function releaseSlabPiece(state: SlabState): void {
  if (state.outstanding <= 0) return; // a bug elsewhere: never go below zero
  state.outstanding--;
  if (state.outstanding !== 0) return;
  if (state === slabState) {
    slabUsed = 0; // the current slab, all given back: start it over
  } else if (freeSlabs.length < SLAB_FREE_COUNT) {
    freeSlabs.push(state.bytes);
  }
}

/**
 * Where a `Protocol` gets the memory of the frames it encodes, and where
 * the writer of those frames gives them back.
 */
export interface FrameAllocator {
  /**
   * Bytes for one frame, which nothing else refers to.
   *
   * @param size the frame's length
   * @returns `size` writable bytes
   */
  allocate(size: number): Uint8Array;
  /**
   * Keeps only the first `used` bytes of the most recent allocation (a
   * text frame is allocated for its worst case).
   *
   * @param bytes what {@linkcode FrameAllocator.allocate} returned last
   * @param used how many of its first bytes the frame kept
   */
  trimLast(bytes: Uint8Array, used: number): void;
  /**
   * The frame was written and nothing refers to its bytes any more, the
   * transport included: its memory may carry another frame.
   *
   * @param frame a frame from {@linkcode FrameAllocator.allocate}
   */
  release(frame: Uint8Array): void;
}

/**
 * A new buffer for every frame, never reused or shared: safe whatever is
 * done with a frame (kept, changed, transferred). The default of
 * `Protocol`.
 */
export const freshFrames: FrameAllocator = {
  allocate: (size) => new Uint8Array(size),
  trimLast: () => {},
  release: () => {},
};

/**
 * Slabs for small frames and buffers lent from the pool for larger ones:
 * for a writer that calls `release` only once its transport is done with
 * the bytes.
 */
export const pooledFrames: FrameAllocator = {
  allocate: allocateFrameBytes,
  trimLast: releaseUnusedFrameBytes,
  release: releaseFrameBytes,
};
