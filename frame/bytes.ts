/**
 * Joining byte arrays: the one helper every layer that gathers chunks
 * (frames, deflate output, HTTP bodies and heads) uses.
 *
 * @module
 */

/**
 * Copies `parts`, in order, into one new array.
 *
 * @param parts the arrays to join; not modified
 * @returns a new array owning its bytes, even for a single part
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}
