/**
 * An echo server's memory over time under one cell of load: starts the
 * target (`ours`, `native`, `minimal`, or a `bun-*` target under Bun; from
 * another checkout with `--dir=DIR`), opens the connections from two load
 * workers (hand-made frames over TCP from Deno, or Bun's WebSocket client
 * with `--client=bun-websocket`, which is the default at 64 KiB and over,
 * as in `main.ts`), sends, and every 250 ms
 * prints the server's RSS and `memoryUsage()` (JS heap committed and used,
 * `external`: `ArrayBuffer` memory among it), then the peak RSS and the
 * echoes per second of a 2 s window. `--v8-flags=...` starts the server
 * with those V8 flags (say `--trace-gc-nvp`, `--trace-gc-verbose`); what
 * they print goes to `--trace=PATH` and `memoryUsage()` is not sampled
 * (its answers would mix with the trace on stdout). A Bun target's
 * samples add JSC's heap size and the `ArrayBuffer` memory it counts
 * toward its next collection; its stderr goes to `--trace=PATH`
 * (`BUN_JSC_logGC=1` in the environment makes JSC log each collection).
 *
 * ```sh
 * deno run -A bench/echo/memory_timeline.ts ours 100 1024 pipe
 * deno run -A bench/echo/memory_timeline.ts native 1000 16 rt --seconds=6
 * deno run -A bench/echo/memory_timeline.ts ours 100 16 pipe --v8-flags=--trace-gc-nvp --trace=/tmp/gc.log
 * BUN_JSC_logGC=1 deno run -A bench/echo/memory_timeline.ts bun-ours 1000 65536 pipe --trace=/tmp/gc.log
 * ```
 *
 * @module
 */

import {
  Child,
  delay,
  findProgram,
  killAll,
  peakRssMegabytes,
  rssMegabytes,
  startLoadWorker,
} from "./processes.ts";
import type { ClientKind } from "./settings.ts";
import { readFlags } from "../flags.ts";

/** Between two samples: 250 ms. */
const SAMPLE_MS = 250;

function megabytes(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** The Deno process the shell started (the shell pipes its trace). */
async function childDeno(shellPid: number): Promise<number> {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["-P", String(shellPid), "deno"],
  }).output();
  return Number(new TextDecoder().decode(stdout).trim());
}

async function main(): Promise<void> {
  const positional = Deno.args.filter((arg) => !arg.startsWith("--"));
  const flags = readFlags(Deno.args.filter((arg) => arg.startsWith("--")));
  const [target = "ours", conns = "100", size = "16", mode = "pipe"] =
    positional;
  const dir = flags.get("dir") ?? new URL("../..", import.meta.url).pathname;
  const seconds = Number(flags.get("seconds") ?? 8);
  const v8Flags = flags.get("v8-flags");
  const tracePath = flags.get("trace") ?? "/dev/null";
  const onBun = target.startsWith("bun-");
  const bunPath = findProgram("bun", []) ?? "bun";
  const bunClient = (flags.get("client") ??
    (Number(size) >= 65536 ? "bun-websocket" : "deno-tcp")) ===
    "bun-websocket";
  const client: ClientKind = bunClient
    ? { runtime: "bun", path: bunPath, transport: "websocket" }
    : { runtime: "deno", path: Deno.execPath(), transport: "tcp" };
  const deno = `${Deno.execPath()} run -A ${
    v8Flags === undefined ? "" : `--v8-flags=${v8Flags}`
  } ${dir}/bench/echo/echo_target.ts ${target}`;
  // JSON lines go on to this process, anything else (a trace) to the file.
  const server = onBun
    ? new Child("server", "/bin/sh", [
      "-c",
      `exec ${bunPath} ${dir}/bench/echo/echo_target.ts ${target} 2>${tracePath}`,
    ])
    : new Child("server", "/bin/sh", [
      "-c",
      `${deno} | awk -W interactive '/^\\{/ {print; fflush(); next} {print > "${tracePath}"}'`,
    ]);
  try {
    const { port } = JSON.parse(await server.nextLine(60_000));
    const pid = onBun ? server.pid : await childDeno(server.pid);
    const count = Number(conns);
    const workers: Child[] = [];
    let first = 0;
    for (let index = 0; index < 2; index++) {
      const share = Math.floor(count / 2) + (index < count % 2 ? 1 : 0);
      workers.push(startLoadWorker(client, {
        url: `ws://127.0.0.1:${port}/`,
        transport: client.transport,
        sourceAddresses: 1,
        connections: share,
        firstConnection: first,
        size: Number(size),
        depth: mode === "pipe" ? 16 : 1,
        connectConcurrency: 64,
        connectTimeoutMs: 30_000 + count * 10,
      }));
      first += share;
    }
    for (const worker of workers) {
      JSON.parse(await worker.nextLine(60_000 + count * 10));
    }
    console.log(`${target}, ${conns} conns x ${size} B ${mode}`);
    console.log(`open: rss ${rssMegabytes(pid).toFixed(1)} MB`);
    await Promise.all(workers.map((worker) => worker.send("go")));
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      const at = ((performance.now() - start) / 1000).toFixed(2);
      let line = `${at} s: rss ${rssMegabytes(pid).toFixed(1)} MB`;
      if (v8Flags === undefined || onBun) {
        await server.send("usage");
        const usage = JSON.parse(await server.nextLine(10_000));
        line += `, heap ${megabytes(usage.heapTotal)} (used ${
          megabytes(usage.heapUsed)
        }), external ${megabytes(usage.external)} MB`;
        if (onBun) {
          await server.send("jsc");
          const jsc = JSON.parse(await server.nextLine(10_000));
          line += `; JSC heap ${megabytes(jsc.heapSize)}, extra memory ${
            megabytes(jsc.extraMemorySize)
          } MB`;
        }
      }
      console.log(line);
      await delay(SAMPLE_MS);
    }
    console.log(`peak rss ${peakRssMegabytes(pid).toFixed(1)} MB`);
    await Promise.all(workers.map((worker) => worker.send("start")));
    await delay(2000);
    await Promise.all(workers.map((worker) => worker.send("stop")));
    let perSecond = 0;
    for (const worker of workers) {
      const result = JSON.parse(await worker.nextLine(30_000));
      perSecond += result.messages / (result.windowMs / 1000);
    }
    console.log(`echoes: ${Math.round(perSecond)}/s`);
    await Promise.all(workers.map((worker) => worker.stop(3000)));
  } finally {
    await server.stop(5000);
    await killAll();
  }
}

await main();
