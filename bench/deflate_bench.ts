/**
 * `deno bench -A bench/deflate_bench.ts`: permessage-deflate at the codec
 * level in Deno, this library against the npm `ws` package (under Deno's
 * `node:zlib`) on the streams of `deflate_cases.ts`: compress + frame the
 * whole stream on a fresh connection, and inflate it. For ws in Node, in
 * Bun and the byte counts, `deflate_summary.ts` runs the sides side by side
 * in their own runtimes.
 *
 * @module
 */

import {
  compressStream,
  deflateCases,
  type DeflateSide,
  ours,
  ws,
} from "./deflate_cases.ts";

const cases = deflateCases(200);
/** Each iteration is a whole stream: a few dozen are enough. */
const ITERATIONS = { n: 30, warmup: 3 };

async function runStream(
  run: (item: Uint8Array) => Promise<Uint8Array> | Uint8Array,
  inputs: readonly Uint8Array[],
): Promise<void> {
  for (const input of inputs) {
    const result = run(input);
    if (result instanceof Promise) await result;
  }
}

for (const item of cases) {
  for (const side of [ours, ws] as DeflateSide[]) {
    const payloads = await compressStream(side, item);
    const baseline = side === ours;
    Deno.bench({
      name: `compress ${item.name}: ${side.name}`,
      group: `compress + frame ${item.name} (${item.messages.length} messages)`,
      baseline,
      ...ITERATIONS,
      fn: () => runStream(side.sender(), item.messages),
    });
    Deno.bench({
      name: `inflate ${item.name}: ${side.name}`,
      group: `inflate ${item.name} (${item.messages.length} messages)`,
      baseline,
      ...ITERATIONS,
      fn: () => runStream(side.receiver(), payloads),
    });
  }
}
