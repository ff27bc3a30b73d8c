/**
 * The echo benchmark's results table and the team's targets.
 *
 * @module
 */

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
  /** "ours" or "native". */
  server: string;
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
  ["server", 7],
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
  ["cli cores", 9],
  ["x msgs/s", 8],
  ["x CPU", 6],
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

/**
 * The results table: one row per server and cell, the ratio ours/native
 * (msgs/s) on ours' rows.
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
    const ours = servers.get("ours");
    const native = servers.get("native");
    for (const result of servers.values()) {
      const isOurs = result.server === "ours";
      const ratio = isOurs ? fixed(throughputRatio(ours, native), 2) : "";
      const efficiency = isOurs ? fixed(cpuRatio(ours, native), 2) : "";
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
        fixed(result.clientCores, 2),
        ratio,
        efficiency,
      ];
      lines.push(
        cells.map((text, index) => pad(text, COLUMNS[index][1], index < 1))
          .join(" ") + problems,
      );
    }
  }
  return lines.join("\n");
}

interface Target {
  label: string;
  applies(cell: Cell): boolean;
  check(ours: RunResult, native: RunResult): { pass: boolean; shown: string };
}

function ratioTarget(
  label: string,
  minimum: number,
  applies: (cell: Cell) => boolean,
): Target {
  return {
    label: `${label} >= ${minimum}x`,
    applies,
    check(ours, native) {
      const ratio = throughputRatio(ours, native);
      const cpu = cpuRatio(ours, native);
      return {
        pass: ratio >= minimum,
        shown: `${fixed(ratio, 2)}x msgs/s (CPU/msg ${fixed(cpu, 2)}x${
          cpu >= minimum ? "" : " MISS"
        })`,
      };
    },
  };
}

const midConns = (cell: Cell): boolean =>
  cell.conns === 100 || cell.conns === 1000;

/** The targets the team set, as ours/native ratios. */
const TARGETS: Target[] = [
  ratioTarget(
    "pipelined 16B",
    2,
    (cell) => midConns(cell) && cell.mode === "pipe" && cell.size === 16,
  ),
  ratioTarget(
    "pipelined 1KiB",
    1.5,
    (cell) => midConns(cell) && cell.mode === "pipe" && cell.size === 1024,
  ),
  ratioTarget(
    "round trip 16B/1KiB",
    1,
    (cell) =>
      midConns(cell) && cell.mode === "rt" &&
      (cell.size === 16 || cell.size === 1024),
  ),
  {
    label: "10k round trip >= 3x, none starved",
    applies: (cell) => cell.conns === 10000 && cell.mode === "rt",
    check(ours, native) {
      const ratio = throughputRatio(ours, native);
      return {
        pass: ratio >= 3 && ours.starved === 0 && ours.failed === 0,
        shown: `${fixed(ratio, 2)}x msgs/s (CPU/msg ${
          fixed(cpuRatio(ours, native), 2)
        }x), ${ours.starved} starved`,
      };
    },
  },
  ratioTarget("64KiB", 1, (cell) => cell.size === 65536),
  {
    label: "10k peak RSS ours <= native",
    applies: (cell) => cell.conns === 10000,
    check(ours, native) {
      return {
        pass: ours.peakRss <= native.peakRss,
        shown: `${fixed(ours.peakRss, 0)} vs ${fixed(native.peakRss, 0)} MB`,
      };
    },
  },
];

/** Lists every target that applies to a measured cell, with pass/MISS. */
export function formatTargets(results: RunResult[]): string {
  const lines: string[] = [];
  const cells = new Map<string, Cell>();
  for (const result of results) cells.set(cellKey(result.cell), result.cell);
  for (const cell of cells.values()) {
    const key = cellKey(cell);
    const ours = results.find((r) =>
      r.server === "ours" && cellKey(r.cell) === key
    );
    const native = results.find((r) =>
      r.server === "native" && cellKey(r.cell) === key
    );
    if (ours === undefined || native === undefined) continue;
    for (const target of TARGETS) {
      if (!target.applies(cell)) continue;
      const { pass, shown } = target.check(ours, native);
      const where = `${cell.conns} conns ${sizeLabel(cell.size)} ${cell.mode}`;
      lines.push(
        `${pass ? "pass" : "MISS"}  ${where.padEnd(22)} ${
          target.label.padEnd(36)
        } ${shown}`,
      );
    }
  }
  return lines.join("\n");
}
