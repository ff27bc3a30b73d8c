/**
 * Summarizes V8 `.cpuprofile` files (from `deno run --cpu-prof`): the
 * functions with the most self time, with file:line, and the same grouped
 * by file.
 *
 * ```sh
 * deno run -A bench/echo/profile_summary.ts /tmp/rfc6455-echo-profiles/ours-*.cpuprofile
 * deno run -A bench/echo/profile_summary.ts --top=40 FILE...
 * ```
 *
 * Several files are added together. Line numbers are 1-based (the profile
 * stores 0-based ones). When `main.ts --profile` wrote a `.window.json`
 * beside a profile, only the samples of the measurement window count (no
 * startup, handshakes or warmup).
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function, in microseconds. */
export interface FunctionTime {
  /** The function's name, or "(anonymous)". */
  name: string;
  /** Where it is: path relative to the current directory, and line. */
  location: string;
  /** Self time in microseconds. */
  micros: number;
}

function shortPath(url: string): string {
  if (url === "") return "(native)";
  const cwd = `file://${Deno.cwd()}/`;
  if (url.startsWith(cwd)) return url.slice(cwd.length);
  if (url.startsWith("ext:")) return url;
  if (url.startsWith("node:")) return url;
  return url.replace(/^file:\/\//, "");
}

/** The measurement window, in both clocks a profile may count in. */
export interface MeasuredWindow {
  /** When it began, CLOCK_MONOTONIC microseconds (Deno's profiles). */
  startMicros: number;
  /** When it ended, CLOCK_MONOTONIC microseconds. */
  endMicros: number;
  /** When it began, microseconds since the epoch (Bun's profiles). */
  startEpochMicros?: number;
  /** When it ended, microseconds since the epoch. */
  endEpochMicros?: number;
}

/**
 * The window in the clock of `profile`: the epoch one when the profile
 * started nearer to it than to the monotonic one (Bun), else the
 * monotonic one (Deno).
 */
export function windowInProfileClock(
  profile: Pick<CpuProfile, "startTime">,
  window: MeasuredWindow,
): { startMicros: number; endMicros: number } {
  const { startEpochMicros, endEpochMicros } = window;
  if (startEpochMicros === undefined || endEpochMicros === undefined) {
    return window;
  }
  const fromMonotonic = Math.abs(profile.startTime - window.startMicros);
  const fromEpoch = Math.abs(profile.startTime - startEpochMicros);
  return fromEpoch < fromMonotonic
    ? { startMicros: startEpochMicros, endMicros: endEpochMicros }
    : window;
}

async function readWindow(profileFile: string): Promise<MeasuredWindow | null> {
  const sidecar = profileFile.replace(/\.cpuprofile$/, ".window.json");
  if (sidecar === profileFile) return null;
  try {
    return JSON.parse(await Deno.readTextFile(sidecar)) as MeasuredWindow;
  } catch {
    return null;
  }
}

/**
 * Adds the self time of every function in `profile` to `totals`, keyed by
 * function and location.
 *
 * @returns the profile's total sampled time in microseconds
 */
export function addSelfTimes(
  profile: CpuProfile,
  totals: Map<string, FunctionTime>,
  window: MeasuredWindow | null,
): number {
  const nodes = new Map<number, ProfileNode>();
  for (const node of profile.nodes) nodes.set(node.id, node);
  const selfByNode = new Map<number, number>();
  let total = 0;
  const bounds = window === null ? null : windowInProfileClock(profile, window);
  let time = profile.startTime;
  for (let index = 0; index < profile.samples.length; index++) {
    // timeDeltas[i] is the time before sample i; charge it to sample i.
    const delta = profile.timeDeltas[index] ?? 0;
    time += delta;
    if (
      bounds !== null && (time < bounds.startMicros || time > bounds.endMicros)
    ) {
      continue;
    }
    const id = profile.samples[index];
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + delta);
    total += delta;
  }
  for (const [id, micros] of selfByNode) {
    const frame = nodes.get(id)?.callFrame;
    if (frame === undefined) continue;
    const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
    const location = frame.url === ""
      ? "(native)"
      : `${shortPath(frame.url)}:${frame.lineNumber + 1}`;
    const key = `${name} ${location}`;
    const entry = totals.get(key) ?? { name, location, micros: 0 };
    entry.micros += micros;
    totals.set(key, entry);
  }
  return total;
}

function percent(part: number, whole: number): string {
  return `${(100 * part / whole).toFixed(1)}%`.padStart(6);
}

async function main(): Promise<void> {
  let top = 25;
  const files: string[] = [];
  for (const arg of Deno.args) {
    if (arg.startsWith("--top=")) top = Number(arg.slice(6));
    else files.push(arg);
  }
  if (files.length === 0) {
    console.error("usage: profile_summary.ts [--top=N] FILE.cpuprofile...");
    Deno.exit(2);
  }
  const totals = new Map<string, FunctionTime>();
  let total = 0;
  let windows = 0;
  for (const file of files) {
    const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
    const window = await readWindow(file);
    if (window !== null) windows++;
    total += addSelfTimes(profile, totals, window);
  }
  const idle = totals.get("(idle) (native)")?.micros ?? 0;
  totals.delete("(idle) (native)");
  const busy = total - idle;
  const functions = [...totals.values()].sort((a, b) => b.micros - a.micros);
  console.log(
    `${files.length} profile(s), ${(total / 1e6).toFixed(2)} s sampled` +
      (windows > 0
        ? ` (only the measurement window, for ${windows} of them)`
        : " (whole process lifetime)"),
  );
  console.log(
    `(idle) ${percent(idle, total).trim()} of it: waiting in the event ` +
      "loop, which includes Rust-side I/O outside JS; percentages below " +
      `are of the other ${(busy / 1e6).toFixed(2)} s\n`,
  );
  console.log("self time by function:");
  for (const entry of functions.slice(0, top)) {
    console.log(
      `${percent(entry.micros, busy)}  ${
        entry.name.padEnd(32)
      } ${entry.location}`,
    );
  }
  const byFile = new Map<string, number>();
  for (const entry of functions) {
    const file = entry.location.replace(/:\d+$/, "");
    byFile.set(file, (byFile.get(file) ?? 0) + entry.micros);
  }
  console.log("\nself time by file:");
  const files_ = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [file, micros] of files_) {
    console.log(`${percent(micros, busy)}  ${file}`);
  }
}

if (import.meta.main) await main();
