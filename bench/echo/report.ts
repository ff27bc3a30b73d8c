/**
 * The echo benchmark's results table and the team's targets.
 *
 * @module
 */

import { PIPELINE_DEPTH } from "./settings.ts";

/** One cell of the benchmark: how many connections, how big, which mode. */
export interface Cell {
  /** Connections. */
  conns: number;
  /** Bytes per message. */
  size: number;
  /** "rt": one message in flight per connection; "pipe": 16. */
  mode: "rt" | "pipe";
}

/** What one server did in one cell. */
export interface RunResult {
  /** The server's name (`settings.ts`, `SERVER_KINDS`). */
  server: string;
  /** The server its ratios are taken against, or null for a baseline. */
  baseline: string | null;
  /** What the server process said it runs. */
  impl: string;
  /** The cell. */
  cell: Cell;
  /** The load client, like "deno-tcp". */
  client: string;
  /** Echoes per second (all connections). */
  messagesPerSecond: number;
  /** Echoed payload, MB (10^6 bytes) per second, one direction. */
  megabytesPerSecond: number;
  /** Median round-trip latency, ms. */
  p50: number;
  /** 99th percentile round-trip latency, ms. */
  p99: number;
  /** Server CPU seconds during the measurement window. */
  serverCpu: number;
  /** Server peak RSS over the whole cell, MiB. */
  peakRss: number;
  /** The measurement window, seconds. */
  windowSeconds: number;
  /** How long the warmup took (until every connection had an echo), ms. */
  warmupMs: number;
  /** Load-client CPU during the window, in cores (1.0 = one core busy). */
  clientCores: number;
  /** Open connections with no echo during the window (plus closed ones). */
  starved: number;
  /** Connections that waited more than 1 s for an echo in the window. */
  slow: number;
  /** The longest any message waited for its echo, ms. */
  longestWaitMs: number;
  /** Connections that did not open. */
  failed: number;
  /** Echoes that did not match (length, sequence, bytes). */
  mismatches: number;
  /** The first mismatch, or an error message. */
  note: string;
}

/** Formats bytes as 16B, 1KiB, 64KiB. */
export function sizeLabel(size: number): string {
  if (size % 1024 === 0) return `${size / 1024}KiB`;
  return `${size}B`;
}

/** The key of a cell, for matching ours with native. */
export function cellKey(cell: Cell): string {
  return `${cell.conns}/${cell.size}/${cell.mode}`;
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "-";
}

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

const COLUMNS: Array<[string, number]> = [
  ["server", 10],
  ["conns", 6],
  ["size", 6],
  ["mode", 5],
  ["msgs/s", 9],
  ["MB/s", 8],
  ["p50 ms", 8],
  ["p99 ms", 8],
  ["srv CPU s", 9],
  ["srv us/msg", 10],
  ["RSS MB", 7],
  ["starved", 7],
  [">1s", 5],
  ["max wait", 8],
  ["cli cores", 9],
  ["x msgs/s", 8],
  ["x CPU", 6],
  ["x RSS", 6],
];

/** Server CPU microseconds per echoed message. */
export function serverMicrosPerMessage(result: RunResult): number {
  const messages = result.messagesPerSecond * result.windowSeconds;
  return messages > 0 ? result.serverCpu * 1e6 / messages : NaN;
}

/** How many times less server CPU per message ours needs than native:
 * the throughput ratio both would reach with a core each, which noise from
 * other processes on the machine does not skew. */
export function cpuRatio(
  ours: RunResult | undefined,
  native: RunResult | undefined,
): number {
  if (ours === undefined || native === undefined) return NaN;
  return serverMicrosPerMessage(native) / serverMicrosPerMessage(ours);
}

/** Throughput of ours over native, or NaN when one is missing. */
export function throughputRatio(
  ours: RunResult | undefined,
  native: RunResult | undefined,
): number {
  if (ours === undefined || native === undefined) return NaN;
  if (native.messagesPerSecond === 0) return NaN;
  return ours.messagesPerSecond / native.messagesPerSecond;
}

/** Peak RSS of ours over its baseline's, or NaN when one is missing. */
export function rssRatio(
  ours: RunResult | undefined,
  native: RunResult | undefined,
): number {
  if (ours === undefined || native === undefined) return NaN;
  return ours.peakRss / native.peakRss;
}

/**
 * The results table: one row per server and cell; rows of a server with a
 * baseline measured in the same cell carry the ratios against it.
 */
export function formatTable(results: RunResult[]): string {
  const lines: string[] = [];
  lines.push(
    COLUMNS.map(([name, width], index) => pad(name, width, index < 1)).join(
      " ",
    ),
  );
  const byKey = new Map<string, Map<string, RunResult>>();
  for (const result of results) {
    const key = cellKey(result.cell);
    if (!byKey.has(key)) byKey.set(key, new Map());
    byKey.get(key)!.set(result.server, result);
  }
  for (const servers of byKey.values()) {
    for (const result of servers.values()) {
      const baseline = result.baseline === null
        ? undefined
        : servers.get(result.baseline);
      const compared = baseline !== undefined;
      const problems = result.failed + result.mismatches > 0
        ? `  (failed ${result.failed}, mismatches ${result.mismatches}${
          result.note === "" ? "" : `: ${result.note}`
        })`
        : result.note === ""
        ? ""
        : `  (${result.note})`;
      const cells = [
        result.server,
        String(result.cell.conns),
        sizeLabel(result.cell.size),
        result.cell.mode,
        fixed(result.messagesPerSecond, 0),
        fixed(result.megabytesPerSecond, 1),
        fixed(result.p50, 2),
        fixed(result.p99, 2),
        fixed(result.serverCpu, 2),
        fixed(serverMicrosPerMessage(result), 1),
        fixed(result.peakRss, 0),
        String(result.starved),
        String(result.slow),
        fixed(result.longestWaitMs, 0),
        fixed(result.clientCores, 2),
        compared ? fixed(throughputRatio(result, baseline), 2) : "",
        compared ? fixed(cpuRatio(result, baseline), 2) : "",
        compared ? fixed(rssRatio(result, baseline), 2) : "",
      ];
      lines.push(
        cells.map((text, index) => pad(text, COLUMNS[index][1], index < 1))
          .join(" ") + problems,
      );
    }
  }
  return lines.join("\n");
}

/**
 * The mean wait for an echo that Little's law gives for a cell's run:
 * messages in flight over echoes per second. When it is over 1 s, no order
 * of service can keep every connection's wait under 1 s at that
 * throughput.
 *
 * @param result the run
 * @returns milliseconds
 */
export function meanWaitMs(result: RunResult): number {
  const depth = result.cell.mode === "pipe" ? PIPELINE_DEPTH : 1;
  return result.cell.conns * depth / result.messagesPerSecond * 1000;
}

/** One goal of issue 15, checked on the cells it applies to. */
interface Target {
  /** What the goal says. */
  label: string;
  /** The server whose rows are checked (against its baseline). */
  server: string;
  applies(cell: Cell): boolean;
  check(ours: RunResult, base: RunResult): { pass: boolean; shown: string };
}

function ratioTarget(
  server: string,
  label: string,
  minimum: number,
  applies: (cell: Cell) => boolean,
): Target {
  return {
    label: `${label} >= ${minimum}x`,
    server,
    applies,
    check(ours, base) {
      const ratio = throughputRatio(ours, base);
      const cpu = cpuRatio(ours, base);
      return {
        pass: ratio >= minimum,
        shown: `${fixed(ratio, 2)}x msgs/s (CPU/msg ${fixed(cpu, 2)}x${
          cpu >= minimum ? "" : " MISS"
        })`,
      };
    },
  };
}

function rssTarget(
  server: string,
  label: string,
  maximum: number,
  applies: (cell: Cell) => boolean,
): Target {
  return {
    label: `${label} <= ${maximum}x`,
    server,
    applies,
    check(ours, base) {
      const ratio = rssRatio(ours, base);
      return {
        pass: ratio <= maximum,
        shown: `${fixed(ratio, 2)}x (${fixed(ours.peakRss, 0)} vs ${
          fixed(base.peakRss, 0)
        } MB)`,
      };
    },
  };
}

const midConns = (cell: Cell): boolean =>
  cell.conns === 100 || cell.conns === 1000;
const smallSize = (cell: Cell): boolean =>
  cell.size === 16 || cell.size === 1024;
const anyCell = (): boolean => true;

/** The goals of issue 15, as ratios against each server's baseline. */
const TARGETS: Target[] = [
  ratioTarget(
    "ours",
    "1. round trip 16B/1KiB",
    1.2,
    (cell) => midConns(cell) && smallSize(cell) && cell.mode === "rt",
  ),
  ratioTarget(
    "ours",
    "1. 64KiB",
    1.2,
    (cell) => midConns(cell) && cell.size === 65536,
  ),
  ratioTarget(
    "ours",
    "1. pipelined",
    3,
    (cell) => midConns(cell) && smallSize(cell) && cell.mode === "pipe",
  ),
  {
    label: "2. no connection waits > 1 s",
    server: "ours",
    applies: (cell) => cell.conns >= 1000 && cell.size <= 1024,
    check(ours) {
      const meanWait = meanWaitMs(ours);
      const bound = meanWait >= 1000
        ? ": 1 s is out of reach at this rate"
        : "";
      return {
        pass: ours.slow === 0 && ours.failed === 0,
        shown: `${ours.slow} waited > 1 s (longest ${
          fixed(ours.longestWaitMs, 0)
        } ms, mean by Little's law ${
          fixed(meanWait, 0)
        } ms${bound}), ${ours.starved} starved`,
      };
    },
  },
  ratioTarget(
    "ours",
    "2. 10k round trip (Bun's figure)",
    3.3,
    (cell) => cell.conns === 10000 && cell.mode === "rt",
  ),
  rssTarget(
    "ours",
    "3. peak RSS",
    0.8,
    (cell) => cell.conns >= 100,
  ),
  ratioTarget(
    "bun-ours",
    "4. Bun pipelined",
    0.5,
    (cell) => cell.mode === "pipe",
  ),
  ratioTarget(
    "bun-ours",
    "4. Bun round trip",
    0.8,
    (cell) => cell.mode === "rt",
  ),
  rssTarget("bun-ours", "4. Bun peak RSS", 2, (cell) => cell.conns >= 100),
  ratioTarget("node-ours", "6. Node vs ws", 1.5, anyCell),
];

/** Lists every target that applies to a measured cell, with pass/MISS. */
export function formatTargets(results: RunResult[]): string {
  const lines: string[] = [];
  for (const ours of results) {
    if (ours.baseline === null) continue;
    const key = cellKey(ours.cell);
    const base = results.find((result) =>
      result.server === ours.baseline && cellKey(result.cell) === key
    );
    if (base === undefined) continue;
    const cell = ours.cell;
    for (const target of TARGETS) {
      if (target.server !== ours.server || !target.applies(cell)) continue;
      const { pass, shown } = target.check(ours, base);
      const where = `${ours.server} ${cell.conns} conns ${
        sizeLabel(cell.size)
      } ${cell.mode}`;
      lines.push(
        `${pass ? "pass" : "MISS"}  ${where.padEnd(31)} ${
          target.label.padEnd(36)
        } ${shown}`,
      );
    }
  }
  return lines.join("\n");
}
