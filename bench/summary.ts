/**
 * Times the same cases as the `*_bench.ts` files with `performance.now()`
 * and prints, per group, time per message, messages/s, MB/s and the ratio of
 * each case's throughput to the group's `ws` baseline (ours/ws > 1 means
 * ours is faster) and to the copy ceiling.
 *
 * Cases of a group run interleaved, in rounds (each round times every case
 * for about `--round-ms`). Rates and ratios come from each case's best
 * round: on a shared machine other processes only ever add time, so the
 * fastest round is the closest to the code's own cost (rounds are long
 * enough that allocation-heavy cases still pay their garbage collection).
 * The median round is shown beside it as a noise indicator.
 *
 * ```sh
 * deno run -A bench/summary.ts                   # everything, ~1 minute
 * deno run -A bench/summary.ts --filter=decode   # groups whose name matches
 * deno run -A bench/summary.ts --rounds=15 --round-ms=60
 * ```
 *
 * @module
 */

import type { BenchCase } from "./bench_case.ts";
import { decodeCases, textDecodeCases } from "./decode_cases.ts";
import { encodeCases } from "./encode_cases.ts";
import { primitiveCases } from "./primitive_cases.ts";
import { loadWsNative, loadWsPureJs } from "./ws_loader.ts";

/** How long and which groups `summary.ts` measures. */
export interface Settings {
  /** Only groups whose name contains this (`--filter=`). */
  filter: string;
  /** Rounds per case (`--rounds=`, default 15). */
  rounds: number;
  /** About how long one case runs per round (`--round-ms=`, default 20). */
  roundMs: number;
}

function parseSettings(args: readonly string[]): Settings {
  const settings: Settings = { filter: "", rounds: 15, roundMs: 20 };
  for (const arg of args) {
    const equals = arg.indexOf("=");
    const name = equals === -1 ? arg : arg.slice(0, equals);
    const value = equals === -1 ? "" : arg.slice(equals + 1);
    if (name === "--filter") settings.filter = value;
    else if (name === "--rounds") settings.rounds = Number(value);
    else if (name === "--round-ms") settings.roundMs = Number(value);
    else throw new Error(`unknown argument ${arg}`);
  }
  return settings;
}

/** Runs `fn` `calls` times; returns the elapsed milliseconds. */
async function timeCalls(
  fn: BenchCase["fn"],
  calls: number,
  isAsync: boolean,
): Promise<number> {
  const start = performance.now();
  if (isAsync) {
    for (let call = 0; call < calls; call++) await fn();
  } else {
    for (let call = 0; call < calls; call++) fn();
  }
  return performance.now() - start;
}

/** The timing of one case. */
export interface Measured {
  benchCase: BenchCase;
  /** Milliseconds per call in the best round. */
  msPerCall: number;
  /** Milliseconds per call in the median round. */
  medianMsPerCall: number;
}

/**
 * Times the cases of one group interleaved, `settings.rounds` times.
 *
 * @param cases the group's cases
 * @param settings rounds and round length
 * @returns each case's best and median time per call
 */
export async function measureGroup(
  cases: readonly BenchCase[],
  settings: Settings,
): Promise<Measured[]> {
  // Warm up each case and size its batch to last about one round slot.
  const plans = [];
  for (const benchCase of cases) {
    const isAsync = benchCase.fn() instanceof Promise;
    let calls = 1;
    let elapsed = await timeCalls(benchCase.fn, calls, isAsync);
    while (elapsed < settings.roundMs / 4) {
      calls *= 2;
      elapsed = await timeCalls(benchCase.fn, calls, isAsync);
    }
    const batch = Math.max(1, Math.round(calls * settings.roundMs / elapsed));
    plans.push({ benchCase, isAsync, batch, samples: [] as number[] });
  }
  for (let round = 0; round < settings.rounds; round++) {
    for (const plan of plans) {
      const elapsed = await timeCalls(
        plan.benchCase.fn,
        plan.batch,
        plan.isAsync,
      );
      plan.samples.push(elapsed / plan.batch);
    }
  }
  return plans.map((plan) => {
    const sorted = plan.samples.toSorted((a, b) => a - b);
    return {
      benchCase: plan.benchCase,
      msPerCall: sorted[0],
      medianMsPerCall: sorted[Math.floor(sorted.length / 2)],
    };
  });
}

function perMessage(measured: Measured): number {
  return measured.msPerCall / measured.benchCase.messagesPerCall;
}

function formatTime(ms: number): string {
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  if (ms >= 0.001) return `${(ms * 1000).toFixed(2)} µs`;
  return `${(ms * 1e6).toFixed(1)} ns`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return perSecond.toFixed(0);
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** One overview row: ours/ws throughput ratios of a group. */
export interface Overview {
  /** The group's name. */
  group: string;
  /** "case: Nx" for every case but the baseline. */
  ratios: string[];
}

/**
 * Prints one group's table (markdown) and returns its ratios to `ws`.
 *
 * @param group the group's name
 * @param measured the group's timings, baseline among them
 * @returns the ratio of each non-baseline case's throughput to the baseline's
 */
export function printGroup(
  group: string,
  measured: readonly Measured[],
): Overview {
  const baseline = measured.find((m) => m.benchCase.baseline) ?? measured[0];
  const ceiling = measured.find((m) => m.benchCase.side === "ceiling");
  const header = [
    pad("case", 50),
    pad("time/msg", 11, true),
    pad("(median)", 11, true),
    pad("msgs/s", 10, true),
    pad("MB/s", 9, true),
    pad("vs ws", 7, true),
    pad("of ceiling", 10, true),
  ].join(" | ");
  console.log(`\n### ${group}\n`);
  console.log(`| ${header} |`);
  console.log(
    `|${"-".repeat(52)}|${"-".repeat(13)}|${"-".repeat(13)}|${"-".repeat(12)}|${
      "-".repeat(11)
    }|${"-".repeat(9)}|${"-".repeat(12)}|`,
  );
  const ratios: string[] = [];
  for (const m of measured) {
    const { benchCase, msPerCall } = m;
    const perMessageMs = msPerCall / benchCase.messagesPerCall;
    const messagesPerSecond = 1000 / perMessageMs;
    const megabytesPerSecond = benchCase.bytesPerCall / msPerCall / 1000;
    const versusWs = perMessage(baseline) / perMessageMs;
    const ofCeiling = ceiling === undefined || benchCase.side === "ceiling"
      ? ""
      : `${((perMessage(ceiling) / perMessageMs) * 100).toFixed(1)}%`;
    if (benchCase.side !== "ws" || benchCase !== baseline.benchCase) {
      ratios.push(`${benchCase.name}: ${versusWs.toFixed(2)}x`);
    }
    const row = [
      pad(benchCase.name, 50),
      pad(formatTime(perMessageMs), 11, true),
      pad(formatTime(m.medianMsPerCall / benchCase.messagesPerCall), 11, true),
      pad(formatRate(messagesPerSecond), 10, true),
      pad(megabytesPerSecond.toFixed(1), 9, true),
      pad(`${versusWs.toFixed(2)}x`, 7, true),
      pad(ofCeiling, 10, true),
    ].join(" | ");
    console.log(`| ${row} |`);
  }
  return { group, ratios };
}

async function main(): Promise<void> {
  const settings = parseSettings(Deno.args);
  const wsNative = loadWsNative();
  const wsPureJs = loadWsPureJs();
  const cases = [
    ...decodeCases([wsNative, wsPureJs]),
    ...textDecodeCases([wsNative, wsPureJs]),
    ...encodeCases(wsNative),
    ...primitiveCases([wsNative, wsPureJs]),
  ].filter((c) => c.group.includes(settings.filter));

  const groups = new Map<string, BenchCase[]>();
  for (const benchCase of cases) {
    const list = groups.get(benchCase.group) ?? [];
    list.push(benchCase);
    groups.set(benchCase.group, list);
  }

  console.log(
    `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}; ${navigator.hardwareConcurrency} CPUs; ` +
      `${settings.rounds} interleaved rounds of ~${settings.roundMs} ms per case; ` +
      `rates from the best round, median round in brackets. ` +
      `"vs ws" = throughput / baseline throughput (>1: faster than ws).`,
  );
  const overview: Overview[] = [];
  for (const [group, groupCases] of groups) {
    overview.push(printGroup(group, await measureGroup(groupCases, settings)));
  }
  console.log("\n### ours/ws (and ws (pure JS)/ws) per group\n");
  for (const { group, ratios } of overview) {
    console.log(`- ${group}: ${ratios.join(", ")}`);
  }
}

if (import.meta.main) await main();
