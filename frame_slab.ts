/**
 * Memory for small outgoing frames, carved from shared slabs. Allocating an
 * `ArrayBuffer` costs more than encoding a small frame into it (about
 * 0.2-0.4 µs in V8, plus the collector's work per buffer), so frames up to
 * {@linkcode SLAB_MAX_FRAME_BYTES} get a slice of a {@linkcode SLAB_BYTES}
 * slab instead, as Node.js does for small `Buffer`s.
 *
 * Each slice is handed out once and never reused: a full slab is simply
 * dropped, and the collector frees it once every frame cut from it has been
 * written. Frames of different connections may share a slab, but never
 * bytes. A frame that stays queued (a peer that does not read) keeps its
 * whole slab alive, so slabs are kept small.
 *
 * @module
 */

/** Largest frame, header included, taken from a slab: 2 KiB. */
export const SLAB_MAX_FRAME_BYTES = 2 * 1024;

/** Bytes per slab: 16 KiB. */
export const SLAB_BYTES = 16 * 1024;

let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * Zeroed bytes for a frame of `size` bytes: a slice of the current slab when
 * the frame is small, a buffer of its own otherwise.
 *
 * @param size the frame's length in bytes
 * @returns `size` writable bytes that nothing else refers to
 */
export function allocateFrameBytes(size: number): Uint8Array {
  if (size > SLAB_MAX_FRAME_BYTES) return new Uint8Array(size);
  if (slabUsed + size > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const bytes = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += size;
  return bytes;
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
