/**
 * Times one side of `deflate_cases.ts` in this runtime and prints one JSON
 * object: per case, the compressed bytes of the whole stream and the best
 * time per message, over several rounds, to compress and frame
 * (`compressUs`) and to inflate (`inflateUs`). `deflate_summary.ts` runs it
 * in Deno, Bun and Node side by side. Runs under all three:
 *
 * ```sh
 * deno run -A bench/deflate_timing.ts ours
 * bun bench/deflate_timing.ts ours
 * node bench/deflate_timing.ts ws
 * ```
 *
 * @module
 */

import process from "node:process";
import {
  compressStream,
  type DeflateCase,
  deflateCases,
  type DeflateSide,
  SIDES,
} from "./deflate_cases.ts";

/** Rounds per measurement; each side's best counts (other processes on a
 * shared machine only add time). */
const ROUNDS = 5;

async function timeStream(
  run: (message: Uint8Array) => Promise<Uint8Array> | Uint8Array,
  inputs: readonly Uint8Array[],
): Promise<number> {
  const start = performance.now();
  for (const input of inputs) {
    const result = run(input);
    if (result instanceof Promise) await result;
  }
  return (performance.now() - start) * 1000 / inputs.length;
}

async function measure(side: DeflateSide, item: DeflateCase) {
  const payloads = await compressStream(side, item);
  let compressUs = Infinity;
  let inflateUs = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    compressUs = Math.min(
      compressUs,
      await timeStream(side.sender(), item.messages),
    );
    inflateUs = Math.min(
      inflateUs,
      await timeStream(side.receiver(), payloads),
    );
  }
  let bytes = 0;
  for (const payload of payloads) bytes += payload.length;
  let raw = 0;
  for (const message of item.messages) raw += message.length;
  return { messages: item.messages.length, raw, bytes, compressUs, inflateUs };
}

const runtime = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";
const sideName = process.argv.at(-1) ?? "";
const side = SIDES[sideName];
if (side === undefined) {
  throw new Error(`usage: deflate_timing.ts <${Object.keys(SIDES).join("|")}>`);
}
const results: Record<string, unknown> = {};
for (const item of deflateCases()) {
  results[item.name] = await measure(side, item);
}
console.log(JSON.stringify({ runtime, side: side.name, results }));
