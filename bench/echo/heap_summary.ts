/**
 * What a server holds per open connection: starts an echo target (Deno's
 * with `--expose-gc`; `bun-*` targets under Bun, collected with
 * `Bun.gc(true)`), opens N connections that each exchange echoes
 * (`--size` bytes, `--depth` in flight; 16 B round trips by default;
 * hand-made frames from Deno, or Bun's WebSocket client with
 * `--client=bun-websocket`, as `main.ts` uses at 64 KiB) and
 * then stay open, collects garbage, and reports the server's JS heap,
 * ArrayBuffers and RSS per connection, the same while the echoes run
 * (before the collection) and the peak RSS (VmHWM); `node-*` targets run
 * under the Node on PATH. Deno targets then add
 * a heap snapshot's self sizes grouped by constructor, per connection;
 * Bun targets JSC's object counts per connection (`bun:jsc` heapStats).
 *
 * ```sh
 * deno run -A bench/echo/heap_summary.ts ours 5000
 * deno run -A bench/echo/heap_summary.ts native 5000
 * deno run -A bench/echo/heap_summary.ts bun-ours 10000 --size=1024 --depth=16
 * deno run -A bench/echo/heap_summary.ts ours 5000 --dir=../base --snapshot=/tmp/base.heapsnapshot
 * ```
 *
 * `--dir=DIR` runs the target of another checkout (its
 * `bench/echo/echo_target.ts`, so its library), for before/after figures
 * from the same measuring code; `--snapshot=PATH` keeps the Deno target's
 * heap snapshot there instead of deleting it.
 *
 * @module
 */

import {
  Child,
  findProgram,
  peakRssMegabytes,
  startLoadWorker,
} from "./processes.ts";
import type { ClientKind } from "./settings.ts";
import { readFlags } from "../flags.ts";

const HERE = new URL(".", import.meta.url).pathname;

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]] };
  };
  nodes: number[];
  strings: string[];
}

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** Echoes run this long before the busy figures are read: 3 s. */
const BUSY_MS = 3000;

/** The command that starts `target`: Bun for `bun-*`, Node (the first on
 * PATH, which must be 24) for `node-*`, Deno otherwise. */
function targetCommand(
  target: string,
  snapshotPath: string,
  benchDir: string,
): string[] {
  if (target.startsWith("bun-")) {
    return [
      findProgram("bun", []) ?? "bun",
      `${benchDir}echo_target.ts`,
      target,
    ];
  }
  if (target.startsWith("node-")) {
    return [
      findProgram("node", []) ?? "node",
      "--expose-gc",
      `${benchDir}echo_target.ts`,
      target,
    ];
  }
  return [
    `ECHO_SNAPSHOT=${snapshotPath}`,
    Deno.execPath(),
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    `${benchDir}echo_target.ts`,
    target,
  ];
}

/** Groups a heap snapshot's nodes by kind and constructor. */
function groupSnapshot(path: string): Map<string, [number, number]> {
  const snapshot = JSON.parse(Deno.readTextFileSync(path)) as Snapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeField = fields.indexOf("type");
  const nameField = fields.indexOf("name");
  const sizeField = fields.indexOf("self_size");
  const groups = new Map<string, [number, number]>();
  const nodes = snapshot.nodes;
  for (let index = 0; index < nodes.length; index += width) {
    const type = types[nodes[index + typeField]];
    const name = snapshot.strings[nodes[index + nameField]];
    const key = type.includes("string")
      ? "(strings)"
      : type === "code"
      ? "(code)"
      : `${type}: ${name.slice(0, 60)}`;
    const group = groups.get(key) ?? [0, 0];
    group[0] += nodes[index + sizeField];
    group[1]++;
    groups.set(key, group);
  }
  return groups;
}

/** Asks the target for its memory: `memory` collects first, `usage` not. */
async function memoryOf(
  server: Child,
  command: "memory" | "usage",
): Promise<Memory> {
  await server.send(command);
  return JSON.parse(await server.nextLine(60_000)) as Memory;
}

async function main(): Promise<void> {
  const positional = Deno.args.filter((arg) => !arg.startsWith("--"));
  const [target = "ours", countText = "5000"] = positional;
  const connections = Number(countText);
  const flags = readFlags(Deno.args.filter((arg) => arg.startsWith("--")));
  const size = Number(flags.get("size") ?? 16);
  const depth = Number(flags.get("depth") ?? 1);
  const clientName = flags.get("client") === "bun-websocket"
    ? "bun-websocket"
    : "deno-tcp";
  const onBun = target.startsWith("bun-");
  const dir = flags.get("dir") ?? "";
  const benchDir = dir === "" ? HERE : `${dir.replace(/\/$/, "")}/bench/echo/`;
  const keptSnapshot = flags.get("snapshot") ?? "";
  const snapshotPath = keptSnapshot !== ""
    ? keptSnapshot
    : await Deno.makeTempFile({ suffix: ".heapsnapshot" });
  const server = new Child(
    `${target} server`,
    "/usr/bin/env",
    targetCommand(target, snapshotPath, benchDir),
  );
  try {
    const { port } = JSON.parse(await server.nextLine(30_000));
    const idle = await memoryOf(server, "memory");
    const client: ClientKind = clientName === "bun-websocket"
      ? {
        runtime: "bun",
        path: findProgram("bun", []) ?? "bun",
        transport: "websocket",
      }
      : { runtime: "deno", path: Deno.execPath(), transport: "tcp" };
    const load = startLoadWorker(client, {
      url: `ws://127.0.0.1:${port}/`,
      transport: client.transport,
      sourceAddresses: 1,
      connections,
      firstConnection: 0,
      size,
      depth,
      connectConcurrency: 64,
      connectTimeoutMs: 120_000,
    });
    try {
      const ready = JSON.parse(await load.nextLine(180_000));
      if (ready.open !== connections) throw new Error(JSON.stringify(ready));
      const openedPeakRss = peakRssMegabytes(server.pid) * 1024 * 1024;
      const opened = await memoryOf(server, "memory");
      // Echoes on every connection: memory read while they run, without a
      // collection and then with one (what is live), then silence.
      await load.send("go");
      await new Promise((resolve) => setTimeout(resolve, BUSY_MS));
      const busy = await memoryOf(server, "usage");
      const busyLive = await memoryOf(server, "memory");
      const peakRss = peakRssMegabytes(server.pid) * 1024 * 1024;
      await load.send("stop");
      await load.nextLine(30_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const open = await memoryOf(server, "memory");
      const per = (memory: Memory, field: keyof Memory) =>
        ((memory[field] - idle[field]) / connections / 1024).toFixed(1);
      const line = (memory: Memory) =>
        `JS heap ${per(memory, "heapUsed")} (committed ${
          per(memory, "heapTotal")
        }), ArrayBuffers ${per(memory, "arrayBuffers")}, other external ${
          ((memory.external - memory.arrayBuffers -
            (idle.external - idle.arrayBuffers)) / connections / 1024)
            .toFixed(1)
        }, RSS ${per(memory, "rss")} KiB`;
      console.log(
        `${target}: ${connections} connections, ${size} B x ${depth} in ` +
          `flight (${clientName}); KiB per connection over the idle server:`,
      );
      console.log(`  opened, before any echo, collected: ${line(opened)}`);
      console.log(`  busy (echoes running, no collection): ${line(busy)}`);
      console.log(`  busy, collected (what is live): ${line(busyLive)}`);
      console.log(`  quiet again, collected: ${line(open)}`);
      const peak = (bytes: number) =>
        `${(bytes / 1024 / 1024).toFixed(0)} MiB, ${
          ((bytes - idle.rss) / connections / 1024).toFixed(1)
        } KiB per connection over the idle server`;
      console.log(`  peak RSS once opened: ${peak(openedPeakRss)}`);
      console.log(`  peak RSS through the echoes: ${peak(peakRss)}`);
      if (target.startsWith("node-")) return;
      if (onBun) {
        await server.send("types");
        const counts = JSON.parse(await server.nextLine(60_000)) as Record<
          string,
          number
        >;
        const sorted = Object.entries(counts).sort((a, b) => b[1] - a[1]);
        console.log("JSC live objects per connection by type (quiet):");
        for (const [type, count] of sorted.slice(0, 20)) {
          console.log(
            `${(count / connections).toFixed(2).padStart(8)}  ${type}`,
          );
        }
        return;
      }
      await server.send("snap");
      await server.nextLine(120_000);
      const groups = [...groupSnapshot(snapshotPath)].sort((a, b) =>
        b[1][0] - a[1][0]
      );
      console.log("heap snapshot, self size per connection by constructor:");
      for (const [key, [size, count]] of groups.slice(0, 30)) {
        console.log(
          `${(size / connections).toFixed(0).padStart(7)} B ${
            (count / connections).toFixed(2).padStart(6)
          } objects  ${key}`,
        );
      }
    } finally {
      await load.stop(1000);
    }
  } finally {
    await server.stop(5000);
    if (keptSnapshot === "") await Deno.remove(snapshotPath);
  }
}

await main();
