/**
 * permessage-deflate side by side in one run: this library's compressor
 * and inflater in Deno and in Bun against the npm `ws` package in Node
 * (its zlib), on the streams of `deflate_cases.ts`, each side in its own
 * process (`deflate_timing.ts`), the runs alternating round by round and
 * each side's best round counting. Prints the bytes on the wire and the
 * time per message to compress + frame and to inflate, with ratios (ours /
 * ws for bytes; ws / ours for throughput, above 1 when ours is faster):
 *
 * ```sh
 * deno run -A bench/deflate_summary.ts [rounds]
 * ```
 *
 * @module
 */

interface CaseResult {
  messages: number;
  raw: number;
  bytes: number;
  compressUs: number;
  inflateUs: number;
}

interface Run {
  label: string;
  command: string;
  args: string[];
}

const TIMING = new URL("./deflate_timing.ts", import.meta.url).pathname;
const RUNS: Run[] = [
  {
    label: "ours, deno",
    command: Deno.execPath(),
    args: ["run", "-A", TIMING, "ours"],
  },
  { label: "ours, bun", command: "bun", args: [TIMING, "ours"] },
  { label: "ws, node", command: "node", args: [TIMING, "ws"] },
  {
    label: "ours-256k, deno",
    command: Deno.execPath(),
    args: ["run", "-A", TIMING, "ours-256k"],
  },
  {
    label: "ours-shared, deno",
    command: Deno.execPath(),
    args: ["run", "-A", TIMING, "ours-shared"],
  },
  {
    label: "ours-no-takeover, deno",
    command: Deno.execPath(),
    args: ["run", "-A", TIMING, "ours-no-takeover"],
  },
];

async function runOnce(run: Run): Promise<Record<string, CaseResult>> {
  const output = await new Deno.Command(run.command, {
    args: run.args,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`${run.label} failed`);
  const text = new TextDecoder().decode(output.stdout).trim().split("\n").at(
    -1,
  )!;
  return JSON.parse(text).results;
}

const rounds = Number(Deno.args[0] ?? 3);
const best = new Map<string, Record<string, CaseResult>>();
for (let round = 0; round < rounds; round++) {
  for (const run of RUNS) {
    const results = await runOnce(run);
    const kept = best.get(run.label);
    if (kept === undefined) {
      best.set(run.label, results);
      continue;
    }
    for (const [name, result] of Object.entries(results)) {
      kept[name].compressUs = Math.min(
        kept[name].compressUs,
        result.compressUs,
      );
      kept[name].inflateUs = Math.min(kept[name].inflateUs, result.inflateUs);
    }
  }
}

const get = (label: string) => best.get(label)!;
const ws = get("ws, node");
const names = Object.keys(ws);
const pad = (text: string | number, width: number) =>
  String(text).padStart(width);
const us = (value: number) => value < 100 ? value.toFixed(1) : value.toFixed(0);

console.log(`deno ${Deno.version.deno}; best of ${rounds} rounds\n`);
console.log("bytes on the wire for the whole stream (ours / ws):");
console.log(
  "case      messages      raw B |     ws B | ours (4 KiB window) | ours-256k        | shared           | no takeover (before)",
);
for (const name of names) {
  const ratio = (label: string) => {
    const bytes = get(label)[name].bytes;
    return `${pad(bytes, 8)} ${(bytes / ws[name].bytes).toFixed(2)}x`;
  };
  console.log(
    `${name.padEnd(9)} ${pad(ws[name].messages, 8)} ${
      pad(ws[name].raw, 10)
    } | ${pad(ws[name].bytes, 8)} | ${ratio("ours, deno").padEnd(19)} | ${
      ratio("ours-256k, deno").padEnd(16)
    } | ${ratio("ours-shared, deno").padEnd(16)} | ${
      ratio("ours-no-takeover, deno")
    }`,
  );
}
for (const operation of ["compressUs", "inflateUs"] as const) {
  console.log(
    `\n${
      operation === "compressUs" ? "compress + frame" : "inflate"
    }, µs per message (ws / ours: above 1, ours is faster):`,
  );
  console.log(
    "case      ws, node | ours, deno       | ours, bun        | ours-256k, deno  | shared, deno     | no takeover, deno",
  );
  for (const name of names) {
    const cell = (label: string) => {
      const value = get(label)[name][operation];
      return `${pad(us(value), 7)} ${(ws[name][operation] / value).toFixed(2)}x`
        .padEnd(16);
    };
    console.log(
      `${name.padEnd(9)} ${pad(us(ws[name][operation]), 8)} | ${
        cell("ours, deno")
      } | ${cell("ours, bun")} | ${cell("ours-256k, deno")} | ${
        cell("ours-shared, deno")
      } | ${cell("ours-no-takeover, deno")}`,
    );
  }
}
