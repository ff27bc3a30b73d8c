/**
 * Command-line settings of the echo benchmark, and which load client
 * (runtime and transport) drives each cell.
 *
 * @module
 */

import { findProgram } from "./processes.ts";
import type { Cell } from "./report.ts";

/** Messages in flight per connection in pipelined mode. */
export const PIPELINE_DEPTH = 16;

/** A load client: the runtime its workers run on and how they connect. */
export interface ClientKind {
  /** "bun" or "deno". */
  runtime: "bun" | "deno";
  /** The runtime's executable. */
  path: string;
  /** "tcp": hand-made frames over `node:net`; "websocket": the runtime's
   * `WebSocket` client. */
  transport: "tcp" | "websocket";
}

/** Everything a run needs to know. */
export interface Settings {
  /** The cells, in order. */
  cells: Cell[];
  /** Milliseconds of sending before the window, at least. */
  warmupMs: number;
  /** The warmup goes on until every connection had an echo, up to this. */
  maxWarmupMs: number;
  /** Milliseconds measured. */
  measureMs: number;
  /** How many times every cell runs per server (the median is shown). */
  rounds: number;
  /** "auto", or a fixed `<runtime>-<transport>` like "bun-websocket". */
  client: string;
  /** Bun's executable, or null when not found. */
  bunPath: string | null;
  /** Load worker processes per run. */
  workers: number;
  /** Source addresses the tcp client spreads connections over
   * (127.0.0.1, 127.0.0.2, ...). */
  sourceAddresses: number;
  /** "ours" and/or "native". */
  servers: string[];
  /** The target `echo_target.ts` runs for "ours": "ours" or "minimal". */
  oursTarget: string;
  /** Cells with more bytes in flight than this are skipped. */
  maxInflightBytes: number;
  /** Where CPU profiles of ours go, or null for none. */
  profileDir: string | null;
  /** Where the results are written as JSON, or null. */
  jsonPath: string | null;
}

/** Bun as `.ci/run` installs it (RFC6455_TOOLS_DIR or
 * ~/.cache/rfc6455-tools), the tools directory of this machine, or PATH. */
export function findBun(): string | null {
  const home = Deno.env.get("HOME") ?? "";
  const tools = Deno.env.get("RFC6455_TOOLS_DIR") ??
    `${home}/.cache/rfc6455-tools`;
  return findProgram("bun", [
    `${tools}/node_modules/.bin/bun`,
    "/opt/tools/node_modules/.bin/bun",
  ]);
}

/**
 * The client for a cell. "auto" takes what loaded this 2-core machine
 * least per message when measured (client CPU us/msg against the native
 * server, 100 connections pipelined): Deno with hand-made frames over TCP
 * for small messages (about 8 us/msg at 16 B, against 11-13 for the
 * WebSocket clients), Bun's WebSocket client for 64 KiB (about 65-90
 * us/msg, against 140-370 for the others).
 */
export function clientFor(settings: Settings, cell: Cell): ClientKind {
  let choice = settings.client;
  if (choice === "auto") {
    choice = cell.size >= 65536 && settings.bunPath !== null
      ? "bun-websocket"
      : "deno-tcp";
  }
  const [runtime, transport] = choice.split("-");
  if (runtime === "bun" && settings.bunPath === null) {
    throw new Error(
      "bun not found (RFC6455_TOOLS_DIR, ~/.cache/rfc6455-tools, /opt/tools, PATH)",
    );
  }
  return {
    runtime: runtime as ClientKind["runtime"],
    path: runtime === "bun" ? settings.bunPath! : Deno.execPath(),
    transport: transport as ClientKind["transport"],
  };
}

/** Every flag `parseSettings` knows. */
const FLAGS = new Set([
  "quick",
  "conns",
  "sizes",
  "modes",
  "warmup-ms",
  "max-warmup-ms",
  "measure-ms",
  "rounds",
  "client",
  "workers",
  "source-addresses",
  "servers",
  "ours",
  "max-inflight-mb",
  "profile",
  "json",
]);

const CLIENTS = new Set([
  "auto",
  "bun-tcp",
  "bun-websocket",
  "deno-tcp",
  "deno-websocket",
]);

function listOption(
  values: Map<string, string>,
  name: string,
  fallback: string[],
): string[] {
  const value = values.get(name);
  return value === undefined ? fallback : value.split(",").filter(Boolean);
}

function quickCells(): Cell[] {
  const cells: Cell[] = [];
  for (const size of [16, 1024]) {
    for (const mode of ["rt", "pipe"] as const) {
      cells.push({ conns: 100, size, mode });
    }
  }
  cells.push({ conns: 1000, size: 16, mode: "rt" });
  return cells;
}

/**
 * Reads `--name=value` flags (see `main.ts`).
 *
 * @throws {Error} for an unknown or malformed flag
 */
export function parseSettings(args: string[]): Settings {
  const values = new Map<string, string>();
  for (const arg of args) {
    if (!arg.startsWith("--")) throw new Error(`unknown argument ${arg}`);
    const equals = arg.indexOf("=");
    const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
    if (!FLAGS.has(name)) {
      throw new Error(
        `unknown flag --${name}; known: ${
          [...FLAGS].map((flag) => `--${flag}`).join(" ")
        }`,
      );
    }
    values.set(name, equals === -1 ? "true" : arg.slice(equals + 1));
  }
  const quick = values.get("quick") === "true";
  const explicit = ["modes", "sizes", "conns"].some((name) => values.has(name));
  let cells: Cell[] = [];
  if (quick && !explicit) {
    cells = quickCells();
  } else {
    const modes = listOption(values, "modes", ["rt", "pipe"]);
    const sizes = listOption(values, "sizes", ["16", "1024", "65536"]);
    const conns = listOption(values, "conns", ["1", "100", "1000", "10000"]);
    for (const count of conns) {
      for (const size of sizes) {
        for (const mode of modes) {
          if (mode !== "rt" && mode !== "pipe") {
            throw new Error(`--modes: "${mode}" is not rt or pipe`);
          }
          cells.push({ conns: Number(count), size: Number(size), mode });
        }
      }
    }
  }
  for (const cell of cells) {
    if (!(cell.conns > 0) || !(cell.size >= 8)) {
      throw new Error("connections must be > 0 and sizes >= 8 bytes");
    }
  }
  const client = values.get("client") ?? "auto";
  if (!CLIENTS.has(client)) {
    throw new Error(`--client must be one of ${[...CLIENTS].join(", ")}`);
  }
  const profile = values.get("profile");
  return {
    cells,
    warmupMs: Number(values.get("warmup-ms") ?? 1000),
    maxWarmupMs: Number(values.get("max-warmup-ms") ?? 20_000),
    measureMs: Number(values.get("measure-ms") ?? (quick ? 3000 : 4000)),
    rounds: Math.max(1, Number(values.get("rounds") ?? 1)),
    client,
    bunPath: findBun(),
    workers: Math.max(1, Number(values.get("workers") ?? 2)),
    sourceAddresses: Math.max(1, Number(values.get("source-addresses") ?? 1)),
    servers: listOption(values, "servers", ["ours", "native"]),
    oursTarget: values.get("ours") ?? "ours",
    maxInflightBytes: Number(values.get("max-inflight-mb") ?? 256) * 2 ** 20,
    profileDir: profile === undefined
      ? null
      : profile === "true"
      ? "/tmp/rfc6455-echo-profiles"
      : profile,
    jsonPath: values.get("json") ?? null,
  };
}
