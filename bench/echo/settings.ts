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

/** A runtime a server or load worker runs in. */
export type Runtime = "deno" | "bun" | "node";

/** A server the benchmark can start: its runtime, the target
 * `echo_target.ts` runs, and the server its ratios are taken against. */
export interface ServerKind {
  /** The name on the command line and in the table. */
  name: string;
  /** The runtime of the server process. */
  runtime: Runtime;
  /** The argument `echo_target.ts` gets. */
  target: string;
  /** The baseline in the same runtime, or null for a baseline. */
  baseline: string | null;
  /** The `echo_target.ts` to run, when not this tree's (`--base`). */
  targetPath?: string;
}

/** Every server, by name: ours and the native baseline in each runtime. */
export const SERVER_KINDS: ReadonlyMap<string, Omit<ServerKind, "name">> =
  new Map([
    ["ours", { runtime: "deno", target: "ours", baseline: "native" }],
    ["native", { runtime: "deno", target: "native", baseline: null }],
    ["deno-node", { runtime: "deno", target: "deno-node", baseline: "native" }],
    ["bun-ours", {
      runtime: "bun",
      target: "bun-ours",
      baseline: "bun-native",
    }],
    ["bun-node", {
      runtime: "bun",
      target: "bun-node",
      baseline: "bun-native",
    }],
    ["bun-native", { runtime: "bun", target: "bun-native", baseline: null }],
    [
      "node-ours",
      { runtime: "node", target: "node-ours", baseline: "node-ws" },
    ],
    ["node-ws", { runtime: "node", target: "node-ws", baseline: null }],
  ]);

/** The servers `--runtimes` stands for: ours and the baseline of each. */
const RUNTIME_SERVERS: ReadonlyMap<string, string[]> = new Map([
  ["deno", ["ours", "native"]],
  ["bun", ["bun-ours", "bun-native"]],
  ["node", ["node-ours", "node-ws"]],
]);

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
  /** Node 24's executable, or null when not found. */
  nodePath: string | null;
  /** Load worker processes per run. */
  workers: number;
  /** Source addresses the tcp client spreads connections over
   * (127.0.0.1, 127.0.0.2, ...). */
  sourceAddresses: number;
  /** The servers, in order (see {@linkcode SERVER_KINDS}). */
  servers: ServerKind[];
  /** Cells with more bytes in flight than this are skipped. */
  maxInflightBytes: number;
  /** Where CPU profiles of ours go, or null for none. */
  profileDir: string | null;
  /** Where the results are written as JSON, or null. */
  jsonPath: string | null;
  /** Connections of the churn run per server (`--churn`), 0 for none. */
  churnConnections: number;
  /** How long the server may settle after the churn before its RSS is
   * read, ms. */
  settleMs: number;
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

/** Node 24 as `.ci/run` installs it (RFC6455_NODE24, the tools directory),
 * or `node` on PATH when that is Node 24 or later; null otherwise. */
export function findNode24(): string | null {
  const home = Deno.env.get("HOME") ?? "";
  const tools = Deno.env.get("RFC6455_TOOLS_DIR") ??
    `${home}/.cache/rfc6455-tools`;
  const candidates = [
    Deno.env.get("RFC6455_NODE24"),
    `${tools}/node_modules/node/bin/node`,
  ].filter((path): path is string => path !== undefined);
  const path = findProgram("node", candidates);
  if (path === null) return null;
  try {
    const output = new Deno.Command(path, { args: ["--version"] }).outputSync();
    const major = Number(
      new TextDecoder().decode(output.stdout).trim().slice(1).split(".")[0],
    );
    return major >= 24 ? path : null;
  } catch {
    return null;
  }
}

/** The executable of a runtime, or an error saying how to get it. */
export function runtimePath(settings: Settings, runtime: Runtime): string {
  if (runtime === "deno") return Deno.execPath();
  const path = runtime === "bun" ? settings.bunPath : settings.nodePath;
  if (path === null) {
    throw new Error(
      runtime === "bun"
        ? "bun not found (RFC6455_TOOLS_DIR, ~/.cache/rfc6455-tools, /opt/tools, PATH)"
        : "node 24 not found (RFC6455_NODE24, ~/.cache/rfc6455-tools: npm install node@24)",
    );
  }
  return path;
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
  "runtimes",
  "base",
  "ours",
  "max-inflight-mb",
  "profile",
  "json",
  "churn",
  "settle-ms",
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

/** The `ours` target `--ours` names: ours, minimal, corrupt or node. */
const OURS_TARGETS: ReadonlyMap<string, string> = new Map([
  ["ours", "ours"],
  ["minimal", "minimal"],
  ["corrupt", "corrupt"],
  ["node", "deno-node"],
]);

/** The servers of `--servers` and `--runtimes` (default: Deno's pair). */
function chooseServers(values: Map<string, string>): ServerKind[] {
  const names: string[] = [];
  for (const runtime of listOption(values, "runtimes", [])) {
    const servers = RUNTIME_SERVERS.get(runtime);
    if (servers === undefined) {
      throw new Error(`--runtimes: "${runtime}" is not deno, bun or node`);
    }
    names.push(...servers);
  }
  const fallback = names.length === 0 ? ["ours", "native"] : [];
  for (const name of listOption(values, "servers", fallback)) {
    if (!names.includes(name)) names.push(name);
  }
  const oursTarget = OURS_TARGETS.get(values.get("ours") ?? "ours");
  if (oursTarget === undefined) {
    throw new Error(`--ours must be one of ${[...OURS_TARGETS.keys()]}`);
  }
  const servers = names.map((name) => {
    const kind = SERVER_KINDS.get(name);
    if (kind === undefined) {
      throw new Error(
        `unknown server ${name}; known: ${[...SERVER_KINDS.keys()].join(", ")}`,
      );
    }
    const target = name === "ours" ? oursTarget : kind.target;
    return { name, ...kind, target };
  });
  const base = values.get("base");
  if (base === undefined) return servers;
  // The same servers of ours from another checkout, for before/after.
  const withBase: ServerKind[] = [];
  for (const server of servers) {
    withBase.push(server);
    if (server.baseline === null) continue;
    withBase.push({
      ...server,
      name: `${server.name}@base`,
      targetPath: `${base}/bench/echo/echo_target.ts`,
    });
  }
  return withBase;
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
  if (values.has("churn") && !quick && !explicit) {
    // --churn alone: only the churn.
  } else if (quick && !explicit) {
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
  const servers = chooseServers(values);
  return {
    cells,
    warmupMs: Number(values.get("warmup-ms") ?? 1000),
    maxWarmupMs: Number(values.get("max-warmup-ms") ?? 20_000),
    measureMs: Number(values.get("measure-ms") ?? (quick ? 3000 : 4000)),
    rounds: Math.max(1, Number(values.get("rounds") ?? 1)),
    client,
    bunPath: findBun(),
    nodePath: findNode24(),
    workers: Math.max(1, Number(values.get("workers") ?? 2)),
    sourceAddresses: Math.max(1, Number(values.get("source-addresses") ?? 1)),
    servers,
    maxInflightBytes: Number(values.get("max-inflight-mb") ?? 1100) * 2 ** 20,
    profileDir: profile === undefined
      ? null
      : profile === "true"
      ? "/tmp/rfc6455-echo-profiles"
      : profile,
    jsonPath: values.get("json") ?? null,
    churnConnections: Number(values.get("churn") ?? 0),
    settleMs: Number(values.get("settle-ms") ?? 3000),
  };
}
