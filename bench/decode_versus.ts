/**
 * `Protocol.receive` of this checkout against another one, each size in a
 * fresh process with rounds alternating: masked client frames of 16 B to
 * 1 MiB fed in 64 KiB chunks (the decode bench's streams). For before/after
 * ratios of a change to the decoder.
 *
 * ```sh
 * git archive <commit> | tar -x -C /tmp/base
 * deno run -A bench/decode_versus.ts /tmp/base
 * ```
 *
 * @module
 */

import { Protocol } from "../protocol/protocol.ts";
import {
  buildClientStream,
  CHUNK_SIZE,
  framesPerStream,
  PAYLOAD_SIZES,
  sizeLabel,
  splitIntoChunks,
} from "./fixtures.ts";

/** Rounds per size; each case runs for about {@linkcode ROUND_MS} per round. */
const ROUNDS = 30;
const ROUND_MS = 20;

type ProtocolClass = typeof Protocol;

function decoderOf(
  ProtocolOf: ProtocolClass,
  bytes: Uint8Array,
  frames: number,
): () => void {
  const protocol = new ProtocolOf({ role: "server" });
  const chunks = splitIntoChunks(bytes.slice(), CHUNK_SIZE);
  return () => {
    let messages = 0;
    for (const chunk of chunks) messages += protocol.receive(chunk).length;
    if (messages !== frames) throw new Error(`${messages} of ${frames}`);
  };
}

/** Times both checkouts on frames of `size` bytes; prints one line. */
async function measure(baseDir: string, size: number): Promise<void> {
  const base = await import(`file://${baseDir}/protocol/protocol.ts`) as {
    Protocol: ProtocolClass;
  };
  const frames = framesPerStream(size);
  const stream = buildClientStream(size, frames);
  const cases: Array<[string, () => void]> = [
    ["base", decoderOf(base.Protocol, stream.bytes, frames)],
    ["this", decoderOf(Protocol, stream.bytes, frames)],
  ];
  const best = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const [name, decode] of order) {
      const start = performance.now();
      let calls = 0;
      while (performance.now() - start < ROUND_MS) {
        decode();
        calls++;
      }
      const micros = (performance.now() - start) * 1000 / calls / frames;
      best.set(name, Math.min(best.get(name) ?? Infinity, micros));
    }
  }
  const before = best.get("base")!;
  const after = best.get("this")!;
  console.log(
    `${sizeLabel(size).padEnd(8)} ${before.toFixed(3).padStart(11)} ${
      after.toFixed(3).padStart(12)
    } ${(before / after).toFixed(2).padStart(10)}x`,
  );
}

const [baseDir, sizeText] = Deno.args;
if (baseDir === undefined) {
  console.error("usage: decode_versus.ts BASE_CHECKOUT_DIR");
  Deno.exit(2);
}
if (sizeText !== undefined) {
  await measure(baseDir, Number(sizeText));
} else {
  console.log(
    "size     base us/msg  this us/msg  base/this (best round of each)",
  );
  for (const size of PAYLOAD_SIZES) {
    // A fresh process per size: the heap one size leaves skews the next.
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        baseDir,
        `${size}`,
      ],
      stderr: "inherit",
    }).output();
    await Deno.stdout.write(output.stdout);
  }
}
