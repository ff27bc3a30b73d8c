/**
 * The payload stage: one region of WebAssembly memory, shared by every
 * decoder of the process, where the first {@linkcode PAYLOAD_STAGE_BYTES} of
 * a large frame's payload are gathered and unmasked while they arrive. A
 * frame that ends there is copied out once into a buffer of its exact size;
 * a longer one moves to a buffer of the decoder's own, sized as if it had
 * grown there. Either way the payload buffers a frame needs are fewer than
 * growing one from the first piece (docs/PERFORMANCE.md, issue 15).
 *
 * One decoder holds the stage at a time. A decoder that claims it while
 * another holds it first makes the holder move its bytes out (a decoder
 * whose peer went quiet mid-frame cannot keep it), so the stage is never
 * lost and never shows one connection's bytes to another.
 *
 * @module
 */

import { maskWordFrom } from "./mask.ts";
import {
  createSimdStage,
  SIMD_STEP_BYTES,
  type SimdStage,
} from "./mask_simd.ts";

/** Bytes of a payload the stage holds. */
export const PAYLOAD_STAGE_BYTES = 256 * 1024;

/** A decoder that can hold the stage. */
export interface StageHolder {
  /** Copies the staged bytes to a buffer of its own; the stage is gone. */
  leaveStage(): void;
}

/** The stage; `undefined` until first claimed, `null` where unavailable. */
let stage: SimdStage | null | undefined;
let holder: StageHolder | null = null;

/**
 * Takes the stage for `claimant`, moving the previous holder's bytes out.
 *
 * @param claimant the decoder that will gather a payload there
 * @returns false where WebAssembly SIMD is unavailable (no stage)
 */
export function claimPayloadStage(claimant: StageHolder): boolean {
  if (stage === undefined) stage = createSimdStage(PAYLOAD_STAGE_BYTES);
  if (stage === null) return false;
  const previous = holder;
  holder = claimant;
  if (previous !== null && previous !== claimant) previous.leaveStage();
  return true;
}

/**
 * Gives the stage back, if `claimant` holds it.
 *
 * @param claimant the decoder done with it
 */
export function releasePayloadStage(claimant: StageHolder): void {
  if (holder === claimant) holder = null;
}

/**
 * Copies a piece of the payload to `position` of the stage, unmasked with
 * `key` (the key of the frame, `position` being the piece's offset within
 * the payload) or as it is when `key` is null.
 *
 * @param position where the piece goes; `position + piece.length` must not
 * pass {@linkcode PAYLOAD_STAGE_BYTES}
 * @param piece the bytes as received
 * @param key the frame's masking key, or null for an unmasked frame
 */
export function stagePiece(
  position: number,
  piece: Uint8Array,
  key: Uint8Array | null,
): void {
  const memory = stage!.memory;
  memory.set(piece, position);
  if (key === null) return;
  const vectorBytes = piece.length & ~(SIMD_STEP_BYTES - 1);
  if (vectorBytes > 0) {
    stage!.mask(position, vectorBytes, maskWordFrom(key, position & 3));
  }
  const end = position + piece.length;
  for (let index = position + vectorBytes; index < end; index++) {
    memory[index] ^= key[index & 3];
  }
}

/**
 * The first `length` staged bytes: a view of the shared stage, to copy out
 * before anything else claims it.
 *
 * @param length how many bytes
 * @returns a view of the stage
 */
export function stagedBytes(length: number): Uint8Array {
  return stage!.memory.subarray(0, length);
}
