/**
 * End-to-end echo load benchmark: this library's servers against each
 * runtime's own WebSocket server, on 127.0.0.1 — in Deno `serve()` against
 * `Deno.serve` + `Deno.upgradeWebSocket`, in Bun `serveBun()` against
 * `Bun.serve`'s WebSocket (uWebSockets), in Node 24 `serveNodeNet()`
 * against npm `ws` with `bufferutil`.
 *
 * ```sh
 * deno task bench:echo --quick      # 100 conns x 16 B/1 KiB x both modes
 *                                   # and 1000 x 16 B round trip: ~2 minutes
 * deno task bench:echo              # 1/100/1000/10000 conns x 16 B/1 KiB/
 *                                   # 64 KiB x rt/pipe: ~15 minutes
 * deno task bench:echo --runtimes=deno,bun,node   # every pair: ~45 minutes
 * deno task bench:echo --conns=100 --sizes=16 --modes=pipe --rounds=3
 * deno task bench:echo --servers=ours,native,bun-native,deno-node --conns=10000 --sizes=16
 * deno task bench:echo --quick --profile   # CPU profiles of the servers
 * deno run -A bench/echo/profile_summary.ts /tmp/rfc6455-echo-profiles/ours-*.cpuprofile
 * ```
 *
 * Servers (`--servers`, or `--runtimes=deno,bun,node` for ours and the
 * baseline of each): `ours` and `native` (Deno), `deno-node` (ours on
 * `node:net` in Deno), `bun-ours`, `bun-node`, `bun-native` (Bun),
 * `node-ours` and `node-ws` (Node 24); each row of ours shows its ratios
 * to the baseline of its runtime measured in the same cell.
 *
 * Each cell (connections x message size x mode: "rt" keeps one message in
 * flight per connection, "pipe" 16) runs once per server and round,
 * servers alternating cell by cell (in order, then reversed, ...) so that
 * the noise of a shared machine hits all alike. A run
 * starts a fresh server process (`echo_target.ts`) and
 * fresh load workers in separate processes (`load_worker.ts`), opens the
 * connections, sends until every connection has had an echo (bounded),
 * then measures for a fixed window: echoes/s, MB/s, latency percentiles,
 * the server's CPU seconds (`/proc/<pid>/stat`) and peak RSS (VmHWM), the
 * load client's CPU (so it can be seen not to be the bottleneck), the
 * connections that got no echo (starved) and those that waited more than
 * 1 s for one (a message still unanswered at the end counts). Every echo is
 * checked byte for byte. Cells with more than `--max-inflight-mb` in
 * flight (1000 pipelined and 10000 connections x 64 KiB) are skipped.
 * Every process is killed at the end, also on errors and Ctrl-C, and
 * children exit by themselves when this process dies (their stdin closes).
 *
 * The load client ("auto") is the one that needed the least CPU per
 * message here: Deno with hand-made frames over `node:net` below 64 KiB,
 * Bun's built-in WebSocket client (permessage-deflate not offered) at
 * 64 KiB; see `settings.ts`. Servers and workers are started through
 * `/bin/sh` with `ulimit -n` raised (65536, or the hard limit when that is
 * not allowed) for 10000 connections.
 *
 * Options: `--quick`, `--conns=1,100`, `--sizes=16,1024`, `--modes=rt,pipe`,
 * `--warmup-ms=1000`, `--max-warmup-ms=20000`, `--measure-ms=4000`,
 * `--rounds=1`,
 * `--client=auto|deno-tcp|bun-tcp|deno-websocket|bun-websocket`,
 * `--workers=2`, `--source-addresses=1` (the tcp client binds connection i
 * to 127.0.0.(1 + i % N) when ephemeral ports run short),
 * `--servers=ours,native`, `--runtimes=deno,bun,node`,
 * `--base=DIR` (also runs each of our servers from the checkout in DIR,
 * as `<name>@base`, for before/after ratios in the same run),
 * `--ours=ours|minimal|corrupt|node` (what `ours` runs; `node`: our
 * echo server on `node:net` sockets, `serveNodeNet`; `corrupt` flips
 * a byte now and then: the checks must fire), `--max-inflight-mb=1100`,
 * `--profile[=DIR]`, `--json=FILE`.
 *
 * @module
 */

import { LatencyHistogram } from "./histogram.ts";
import {
  Child,
  cpuSeconds,
  delay,
  killAll,
  peakRssMegabytes,
  startLoadWorker,
} from "./processes.ts";
import { runChurns } from "./churn.ts";
import {
  clientFor,
  parseSettings,
  PIPELINE_DEPTH,
  runtimePath,
  type ServerKind,
  type Settings,
} from "./settings.ts";
import {
  type Cell,
  cellKey,
  formatTable,
  formatTargets,
  type RunResult,
  serverMicrosPerMessage,
  sizeLabel,
} from "./report.ts";
import type { WorkerResult } from "./load_worker.ts";

const HERE = new URL(".", import.meta.url);
const TARGET_PATH = new URL("echo_target.ts", HERE).pathname;

/** Microseconds since boot (10 ms resolution), the clock of CPU profiles. */
function uptimeMicros(): number {
  const text = Deno.readTextFileSync("/proc/uptime");
  return Math.round(Number(text.split(" ")[0]) * 1e6);
}

async function startServer(
  settings: Settings,
  server: ServerKind,
  label: string,
): Promise<{ child: Child; port: number; impl: string }> {
  const path = runtimePath(settings, server.runtime);
  const args: string[] = [];
  if (server.runtime === "deno") args.push("run", "-A");
  if (settings.profileDir !== null) {
    // Deno, Bun and Node take the same flags.
    args.push("--cpu-prof", `--cpu-prof-dir=${settings.profileDir}`);
    args.push(`--cpu-prof-name=${label}.cpuprofile`);
  }
  const child = new Child(`${server.name} server`, path, [
    ...args,
    server.targetPath ?? TARGET_PATH,
    server.target,
  ]);
  const started = JSON.parse(await child.nextLine(60_000)) as {
    port: number;
    impl: string;
  };
  return { child, port: started.port, impl: started.impl };
}

/**
 * Starts sending and waits at least `warmupMs`, then until every open
 * connection has had an echo (so the window measures a steady state, not
 * the backlog of first messages), at most `maxWarmupMs`.
 */
async function warmUp(
  settings: Settings,
  workers: Child[],
): Promise<{ ms: number; silent: number }> {
  const begin = performance.now();
  await Promise.all(workers.map((worker) => worker.send("go")));
  await delay(settings.warmupMs);
  while (true) {
    let silent = 0;
    for (const worker of workers) {
      await worker.send("status");
      const status = JSON.parse(await worker.nextLine(30_000));
      if (status.type !== "status") throw new Error(JSON.stringify(status));
      silent += status.silent;
    }
    const ms = Math.round(performance.now() - begin);
    if (silent === 0 || ms >= settings.maxWarmupMs) return { ms, silent };
    await delay(250);
  }
}

/** Runs one server in one cell, from process start to every process gone. */
async function runOnce(
  settings: Settings,
  server: ServerKind,
  cell: Cell,
  label: string,
): Promise<RunResult> {
  const depth = cell.mode === "pipe" ? PIPELINE_DEPTH : 1;
  const client = clientFor(settings, cell);
  const started = await startServer(settings, server, label);
  const workers: Child[] = [];
  try {
    const workerCount = Math.min(settings.workers, cell.conns);
    const connectTimeoutMs = 30_000 + cell.conns * 10;
    let first = 0;
    for (let index = 0; index < workerCount; index++) {
      const share = Math.floor(cell.conns / workerCount) +
        (index < cell.conns % workerCount ? 1 : 0);
      workers.push(startLoadWorker(client, {
        url: `ws://127.0.0.1:${started.port}/`,
        transport: client.transport,
        sourceAddresses: settings.sourceAddresses,
        connections: share,
        firstConnection: first,
        size: cell.size,
        depth,
        connectConcurrency: 64,
        connectTimeoutMs,
      }));
      first += share;
    }
    let failed = 0;
    const extensions = new Set<string>();
    for (const worker of workers) {
      const ready = JSON.parse(
        await worker.nextLine(connectTimeoutMs + 30_000),
      );
      if (ready.type !== "ready") throw new Error(`worker: ${ready.message}`);
      failed += ready.failed;
      for (const extension of ready.extensions ?? []) extensions.add(extension);
    }
    const warmup = await warmUp(settings, workers);
    const pids = [started.child.pid, ...workers.map((worker) => worker.pid)];
    await Promise.all(workers.map((worker) => worker.send("start")));
    const before = pids.map(cpuSeconds);
    const windowStart = performance.now();
    const uptimeStart = uptimeMicros();
    const epochStart = Date.now() * 1000;
    await delay(settings.measureMs);
    const after = pids.map(cpuSeconds);
    await Promise.all(workers.map((worker) => worker.send("stop")));
    if (settings.profileDir !== null) {
      // Deno's profiles count CLOCK_MONOTONIC microseconds (as /proc/uptime
      // does), Bun's wall-clock ones: the window is written in both, and
      // profile_summary.ts keeps the samples inside the one that fits.
      Deno.writeTextFileSync(
        `${settings.profileDir}/${label}.window.json`,
        JSON.stringify({
          startMicros: uptimeStart,
          endMicros: uptimeMicros(),
          startEpochMicros: epochStart,
          endEpochMicros: Date.now() * 1000,
        }),
      );
    }
    const windowSeconds = (performance.now() - windowStart) / 1000;
    const latency = new LatencyHistogram();
    let messages = 0;
    let bytes = 0;
    let starved = 0;
    let mismatches = 0;
    let closed = 0;
    let slow = 0;
    let longestWaitMs = 0;
    const notes: string[] = [];
    if (extensions.size > 0) {
      notes.push(`extensions agreed: ${[...extensions].join(" / ")}`);
    }
    if (warmup.silent > 0) {
      notes.push(
        `${warmup.silent} conns had no echo after ${warmup.ms} ms warmup`,
      );
    }
    let workerWindowMs = 0;
    for (const worker of workers) {
      const result = JSON.parse(await worker.nextLine(60_000)) as WorkerResult;
      if (result.type !== "result") throw new Error(JSON.stringify(result));
      messages += result.messages;
      bytes += result.bytes;
      starved += result.starved;
      mismatches += result.mismatches;
      closed += result.closed;
      slow += result.slow;
      longestWaitMs = Math.max(longestWaitMs, result.longestWaitMs);
      if (result.firstMismatch !== "") notes.push(result.firstMismatch);
      latency.add(result.latency);
      workerWindowMs = Math.max(workerWindowMs, result.windowMs);
    }
    if (closed > 0) notes.push(`${closed} conns closed during the run`);
    const peakRss = peakRssMegabytes(started.child.pid);
    let clientCpu = 0;
    for (let index = 1; index < pids.length; index++) {
      clientCpu += after[index] - before[index];
    }
    const seconds = workerWindowMs / 1000;
    return {
      server: server.name,
      baseline: server.baseline,
      impl: started.impl,
      cell,
      client: `${client.runtime}-${client.transport}`,
      messagesPerSecond: messages / seconds,
      megabytesPerSecond: bytes / seconds / 1e6,
      p50: latency.percentileMillis(0.5),
      p99: latency.percentileMillis(0.99),
      serverCpu: after[0] - before[0],
      peakRss,
      windowSeconds: seconds,
      clientCores: clientCpu / windowSeconds,
      starved,
      slow,
      longestWaitMs,
      failed,
      mismatches,
      warmupMs: warmup.ms,
      note: notes.join("; "),
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop(3_000)));
    await started.child.stop(10_000);
  }
}

function failedRun(
  server: ServerKind,
  cell: Cell,
  error: unknown,
): RunResult {
  const message = error instanceof Error ? error.message : String(error);
  return {
    server: server.name,
    baseline: server.baseline,
    impl: "",
    cell,
    client: "",
    messagesPerSecond: NaN,
    megabytesPerSecond: NaN,
    p50: NaN,
    p99: NaN,
    serverCpu: NaN,
    peakRss: NaN,
    windowSeconds: NaN,
    warmupMs: NaN,
    clientCores: NaN,
    starved: cell.conns,
    slow: cell.conns,
    longestWaitMs: NaN,
    failed: cell.conns,
    mismatches: 0,
    note: message.split("\n")[0],
  };
}

function describeRun(name: string, result: RunResult): string {
  const rate = result.messagesPerSecond;
  if (!Number.isFinite(rate)) {
    return `  ${name} ${result.server}: failed (${result.note})`;
  }
  const clientMicros = result.clientCores * 1e6 / rate;
  return `  ${name} ${result.server}: ${rate.toFixed(0)} msgs/s; server ` +
    `${result.serverCpu.toFixed(2)} CPU s, ` +
    `${serverMicrosPerMessage(result).toFixed(1)} us/msg; client ` +
    `${result.client} ${result.clientCores.toFixed(2)} cores, ${
      clientMicros.toFixed(1)
    } us/msg; warmup ${result.warmupMs} ms; ${result.slow} waited > 1 s, ` +
    `longest ${result.longestWaitMs.toFixed(0)} ms; RSS ${
      result.peakRss.toFixed(0)
    } MB` +
    (result.note === "" ? "" : ` (${result.note})`);
}

/** Of several rounds, the run with the median throughput. */
function medianRun(runs: RunResult[]): RunResult {
  const sorted = [...runs].sort((a, b) =>
    (a.messagesPerSecond || 0) - (b.messagesPerSecond || 0)
  );
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function describeMachine(settings: Settings): Promise<string> {
  const version = async (path: string): Promise<string> => {
    try {
      const output = await new Deno.Command(path, { args: ["--version"] })
        .output();
      return new TextDecoder().decode(output.stdout).split("\n")[0].trim();
    } catch {
      return "?";
    }
  };
  let cpu = "?";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const line = info.split("\n").find((l) => l.startsWith("model name"));
    cpu = line?.split(":")[1]?.trim() ?? "?";
  } catch {
    // Not Linux.
  }
  const load = Deno.loadavg().map((value) => value.toFixed(2)).join(" ");
  return [
    `machine: ${navigator.hardwareConcurrency} cores (${cpu}), ` +
    `${(Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0)} GiB, ` +
    `load average ${load}`,
    `servers: ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
    `load client: ${settings.workers} worker processes per run, ` +
    `client ${settings.client}; deno ${Deno.version.deno}, bun ` +
    `${
      settings.bunPath === null ? "not found" : await version(settings.bunPath)
    }, node ${
      settings.nodePath === null
        ? "24 not found"
        : await version(settings.nodePath)
    }` +
    `\n  (tcp = hand-made frames over node:net, websocket = the runtime's ` +
    `WebSocket client; auto = deno-tcp below 64 KiB, bun-websocket at 64 KiB)`,
  ].join("\n");
}

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = parseSettings(Deno.args);
  } catch (error) {
    console.error(`bench:echo: ${(error as Error).message}`);
    Deno.exitCode = 2;
    return;
  }
  if (settings.profileDir !== null) {
    Deno.mkdirSync(settings.profileDir, { recursive: true });
  }
  console.log(await describeMachine(settings));
  console.log(
    `each run: fresh server process, warmup of ${settings.warmupMs} ms ` +
      `and then until every connection has had an echo (at most ` +
      `${settings.maxWarmupMs} ms), ${settings.measureMs} ms measured.\n` +
      "servers alternate cell by cell (in order, then reversed, ...) so " +
      "the noise of other processes on this machine hits all alike.",
  );
  const results: RunResult[] = [];
  const runs = new Map<string, RunResult[]>();
  let order = 0;
  for (let round = 0; round < settings.rounds; round++) {
    for (const cell of settings.cells) {
      const depth = cell.mode === "pipe" ? PIPELINE_DEPTH : 1;
      const inflight = cell.conns * depth * cell.size;
      const name = `${cell.conns} conns ${sizeLabel(cell.size)} ${cell.mode}`;
      if (inflight > settings.maxInflightBytes) {
        if (round === 0) {
          console.log(
            `skip ${name}: ${(inflight / 2 ** 20).toFixed(0)} MiB in flight ` +
              `> --max-inflight-mb=${settings.maxInflightBytes / 2 ** 20}`,
          );
        }
        continue;
      }
      const servers = order++ % 2 === 0
        ? settings.servers
        : [...settings.servers].reverse();
      for (const server of servers) {
        const label =
          `${server.name}-${cell.conns}-${cell.size}-${cell.mode}-r${round}`;
        let result: RunResult;
        try {
          result = await runOnce(settings, server, cell, label);
        } catch (error) {
          await killAll();
          result = failedRun(server, cell, error);
        }
        const key = `${server.name}|${cellKey(cell)}`;
        if (!runs.has(key)) runs.set(key, []);
        runs.get(key)!.push(result);
        console.log(describeRun(name, result));
      }
    }
  }
  for (const list of runs.values()) results.push(medianRun(list));
  console.log(
    "\nmsgs/s and MB/s count echoes received (payload bytes, one direction);" +
      " latency is send-to-echo per message; srv CPU s is the server's" +
      " user+sys CPU in the window and srv us/msg that per echo; RSS is the server's peak; cli cores is" +
      " the load workers' CPU in the window (1.00 = one core); starved" +
      " counts connections with no echo in the window, >1s those that" +
      " waited longer than 1 s for one, max wait the longest wait (ms)." +
      " On the rows of a server with a baseline (ours: native, bun-ours:" +
      " bun-native, node-ours: node-ws): x msgs/s is its throughput over" +
      " the baseline's; x CPU is baseline/ours server CPU per message (the" +
      " throughput ratio if each server had a core to itself: robust to" +
      " other load on the machine); x RSS is ours/baseline peak RSS." +
      (settings.rounds > 1 ? " Median run of each cell by msgs/s." : "") +
      "\n",
  );
  console.log(formatTable(results));
  console.log("\ntargets of issue 15 (ours/baseline):");
  console.log(formatTargets(results));
  if (settings.profileDir !== null) {
    console.log(
      `\nCPU profiles (both servers): ${settings.profileDir}/*.cpuprofile`,
    );
    console.log(
      `summarize: deno run -A bench/echo/profile_summary.ts ${settings.profileDir}/<file>`,
    );
  }
  const churnRuns = settings.churnConnections > 0
    ? await runChurns(
      settings.servers,
      settings.churnConnections,
      settings.settleMs,
      (server) => startServer(settings, server, `${server.name}-churn`),
    )
    : [];
  if (settings.jsonPath !== null) {
    Deno.writeTextFileSync(
      settings.jsonPath,
      JSON.stringify({ settings, results, churn: churnRuns }, null, 2),
    );
  }
}

let interrupted = false;
const onSignal = (): void => {
  if (interrupted) return;
  interrupted = true;
  console.error("\ninterrupted: killing every server and load worker");
  killAll().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);
try {
  await main();
} catch (error) {
  console.error(error);
  Deno.exitCode = 1;
} finally {
  await killAll();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
}
