/**
 * Times the permessage-deflate cases of `deflate_cases.ts` in rounds and
 * prints, per case and operation, the time per message and messages per
 * second of this library and of `ws`, and ours/ws (throughput; above 1
 * means ours is faster). Each side's best round counts: on a shared machine
 * other processes only add time. Runs under Deno and Bun:
 *
 * ```sh
 * deno run -A bench/deflate_summary.ts
 * bun bench/deflate_summary.ts
 * ```
 *
 * @module
 */

import {
  type DeflateCase,
  deflateCases,
  type DeflateCodec,
  ours,
  wireTable,
  ws,
} from "./deflate_cases.ts";

/** Rounds per side and operation. */
const ROUNDS = 9;
/** About how long one round runs, in milliseconds. */
const ROUND_MS = 150;

type Operation = "deflate" | "inflate" | "echo";

function runOnce(
  codec: DeflateCodec,
  operation: Operation,
  item: DeflateCase,
): Promise<unknown> {
  const payload = codec === ours ? item.oursPayload : item.wsPayload;
  const size = item.message.length;
  if (operation === "deflate") return codec.deflate(item.message);
  if (operation === "inflate") return codec.inflate(payload, size);
  return codec.inflate(payload, size).then((message) => codec.deflate(message));
}

/** Seconds per message in the best round. */
async function bestTime(
  codec: DeflateCodec,
  operation: Operation,
  item: DeflateCase,
): Promise<number> {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    let count = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      await runOnce(codec, operation, item);
      count++;
      elapsed = performance.now() - start;
    }
    best = Math.min(best, elapsed / 1000 / count);
  }
  return best;
}

function formatTime(seconds: number): string {
  return seconds < 1e-3
    ? `${(seconds * 1e6).toFixed(1)} µs`
    : `${(seconds * 1e3).toFixed(2)} ms`;
}

const runtime = "Deno" in globalThis
  ? `deno ${
    (globalThis as { Deno?: { version: { deno: string } } }).Deno
      ?.version.deno
  }`
  : `bun ${(globalThis as { Bun?: { version: string } }).Bun?.version}`;
const cases = await deflateCases();
console.log(`${runtime}\n${wireTable(cases)}\n`);
console.log(
  "case      operation  ours/msg     ws/msg       ours msg/s   ws msg/s     ours/ws",
);
for (const item of cases) {
  for (const operation of ["deflate", "inflate", "echo"] as const) {
    // Warm up both sides before timing.
    for (let i = 0; i < 20; i++) {
      await runOnce(ours, operation, item);
      await runOnce(ws, operation, item);
    }
    const oursTime = await bestTime(ours, operation, item);
    const wsTime = await bestTime(ws, operation, item);
    console.log(
      `${item.name.padEnd(9)} ${operation.padEnd(10)} ${
        formatTime(oursTime).padEnd(12)
      } ${formatTime(wsTime).padEnd(12)} ${
        Math.round(1 / oursTime).toString().padEnd(12)
      } ${Math.round(1 / wsTime).toString().padEnd(12)} ${
        (wsTime / oursTime).toFixed(2)
      }`,
    );
  }
}
