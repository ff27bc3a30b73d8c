/**
 * What a server holds per open connection: starts an echo target (Deno
 * only, with `--expose-gc`), opens N connections that each exchange a few
 * echoes and then stay open, collects garbage, and reports the server's
 * JS heap, ArrayBuffers and RSS per connection (and the same while the
 * echoes run, before the collection), then a heap snapshot's
 * self sizes grouped by constructor, per connection.
 *
 * ```sh
 * deno run -A bench/echo/heap_summary.ts ours 5000
 * deno run -A bench/echo/heap_summary.ts native 5000
 * ```
 *
 * @module
 */

import { Child } from "./processes.ts";

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

async function main(): Promise<void> {
  const [target = "ours", countText = "5000"] = Deno.args;
  const connections = Number(countText);
  const snapshotPath = await Deno.makeTempFile({ suffix: ".heapsnapshot" });
  const server = new Child(`${target} server`, "/usr/bin/env", [
    `ECHO_SNAPSHOT=${snapshotPath}`,
    Deno.execPath(),
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    `${HERE}echo_target.ts`,
    target,
  ]);
  try {
    const { port } = JSON.parse(await server.nextLine(30_000));
    await server.send("memory");
    const idle = JSON.parse(await server.nextLine(30_000)) as Memory;
    const load = new Child("load worker", Deno.execPath(), [
      "run",
      "-A",
      `${HERE}load_worker.ts`,
      JSON.stringify({
        url: `ws://127.0.0.1:${port}/`,
        transport: "tcp",
        sourceAddresses: 1,
        connections,
        firstConnection: 0,
        size: 16,
        depth: 1,
        connectConcurrency: 64,
        connectTimeoutMs: 120_000,
      }),
    ]);
    try {
      const ready = JSON.parse(await load.nextLine(180_000));
      if (ready.open !== connections) throw new Error(JSON.stringify(ready));
      // Echoes on every connection (memory read while they run, without a
      // collection), then silence.
      await load.send("go");
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await server.send("usage");
      const busy = JSON.parse(await server.nextLine(30_000)) as Memory;
      await load.send("stop");
      await load.nextLine(30_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await server.send("memory");
      const open = JSON.parse(await server.nextLine(30_000)) as Memory;
      await server.send("snap");
      await server.nextLine(120_000);
      const per = (memory: Memory, field: keyof Memory) =>
        ((memory[field] - idle[field]) / connections / 1024).toFixed(1);
      console.log(
        `${target}: ${connections} connections open, after a collection: ` +
          `JS heap ${per(open, "heapUsed")} KiB (heap committed ` +
          `${per(open, "heapTotal")} KiB), ArrayBuffers and other external ` +
          `${per(open, "external")} KiB, RSS ${per(open, "rss")} KiB per ` +
          `connection; busy (round trips running, no collection): JS heap ` +
          `${per(busy, "heapUsed")} KiB (committed ${
            per(busy, "heapTotal")
          } KiB), RSS ${per(busy, "rss")} KiB`,
      );
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
    await Deno.remove(snapshotPath);
  }
}

await main();
