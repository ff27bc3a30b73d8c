/**
 * Child processes of the echo benchmark (servers and load workers), what
 * they cost (CPU seconds and peak RSS from `/proc`), and killing every one
 * of them however the benchmark ends.
 *
 * @module
 */

import type { ClientKind } from "./settings.ts";
import type { WorkerConfig } from "./load_worker.ts";

/** Clock ticks per second in `/proc/<pid>/stat` (USER_HZ; 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/** The open-files limit children ask for (lowered to the hard limit when
 * raising that is not allowed). */
export const WANTED_OPEN_FILES = 65536;

/** Every child still running, so that {@linkcode killAll} can end them. */
const running = new Set<Child>();

const textEncoder = new TextEncoder();

/** The load worker's program. */
const LOAD_WORKER_PATH = new URL("load_worker.ts", import.meta.url).pathname;

/**
 * Starts a load worker (`load_worker.ts`) in the client's runtime.
 *
 * @param client the runtime (and its executable) the worker runs in
 * @param config what the worker opens and sends
 * @returns the worker; its first line says how many connections opened
 */
export function startLoadWorker(
  client: ClientKind,
  config: WorkerConfig,
): Child {
  const args = client.runtime === "bun"
    ? ["run", LOAD_WORKER_PATH, JSON.stringify(config)]
    : ["run", "-A", LOAD_WORKER_PATH, JSON.stringify(config)];
  return new Child(`${client.runtime} load worker`, client.path, args);
}

/** A child process whose stdout is read line by line. */
export class Child {
  /** The process id (the program's own: the shell execs it). */
  readonly pid: number;
  /** A name for error messages. */
  readonly name: string;
  /** Settles when the process has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #process: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: string[] = [];
  readonly #stderrTail: string[] = [];
  #lineWaiter: (() => void) | null = null;
  #stdoutEnded = false;
  #alive = true;

  /**
   * Starts `command` with `args` under `/bin/sh`, which first raises the
   * open-files limit to {@linkcode WANTED_OPEN_FILES} (or the hard limit).
   */
  constructor(name: string, command: string, args: string[]) {
    this.name = name;
    const script = `ulimit -n ${WANTED_OPEN_FILES} 2>/dev/null || ` +
      `ulimit -n "$(ulimit -Hn)"; exec "$@"`;
    this.#process = new Deno.Command("/bin/sh", {
      args: ["-c", script, "sh", command, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#process.pid;
    running.add(this);
    this.#stdin = this.#process.stdin.getWriter();
    this.exited = this.#process.status.finally(() => {
      this.#alive = false;
      running.delete(this);
    });
    void this.#readLines(this.#process.stdout, (line) => {
      this.#lines.push(line);
    }).finally(() => {
      this.#stdoutEnded = true;
      this.#wake();
    });
    void this.#readLines(this.#process.stderr, (line) => {
      this.#stderrTail.push(line);
      if (this.#stderrTail.length > 20) this.#stderrTail.shift();
    });
  }

  /** The last lines the child wrote to stderr. */
  get stderrTail(): string {
    return this.#stderrTail.join("\n");
  }

  async #readLines(
    stream: ReadableStream<Uint8Array>,
    onLine: (line: string) => void,
  ): Promise<void> {
    let pending = "";
    try {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        pending += text;
        let newline = pending.indexOf("\n");
        while (newline !== -1) {
          onLine(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
          newline = pending.indexOf("\n");
        }
        this.#wake();
      }
    } catch {
      // The child was killed.
    }
    if (pending !== "") onLine(pending);
  }

  #wake(): void {
    const waiter = this.#lineWaiter;
    this.#lineWaiter = null;
    waiter?.();
  }

  /**
   * The next stdout line.
   *
   * @throws {Error} when none comes within `timeoutMs` or stdout ends
   */
  async nextLine(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#stdoutEnded) {
        throw new Error(
          `${this.name} exited without answering:\n${this.stderrTail}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name} did not answer in ${timeoutMs} ms`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#lineWaiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return this.#lines.shift()!;
  }

  /** Writes one line to the child's stdin (ignored once it exited). */
  async send(line: string): Promise<void> {
    try {
      await this.#stdin.write(textEncoder.encode(line + "\n"));
    } catch {
      // The child is gone.
    }
  }

  /** Asks the child to exit (`exit` line, stdin closed); kills it with
   * SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.#alive) return;
    await this.send("exit");
    try {
      await this.#stdin.close();
    } catch {
      // Already closed.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const late = await Promise.race([
      this.exited.then(() => false),
      timedOut,
    ]);
    clearTimeout(timer);
    if (late) this.kill();
    await this.exited;
  }

  /** SIGKILL, if still running. */
  kill(): void {
    if (!this.#alive) return;
    try {
      this.#process.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }
}

/** SIGKILLs every child still running and waits until they are gone. */
export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) child.kill();
  await Promise.allSettled(children.map((child) => child.exited));
}

/**
 * CPU seconds (user + system, all threads) a process has used so far.
 *
 * @returns seconds, or NaN when the process is gone
 */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name, which is in parentheses and may
    // contain spaces: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** A `/proc/<pid>/status` field in kB, as MiB; NaN when gone. */
function statusMegabytes(pid: number, field: string): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    for (const line of status.split("\n")) {
      if (line.startsWith(`${field}:`)) {
        return Number.parseInt(line.slice(field.length + 1).trim(), 10) /
          1024;
      }
    }
  } catch {
    // Gone.
  }
  return NaN;
}

/**
 * The peak resident set size of a process (VmHWM).
 *
 * @returns megabytes (MiB), or NaN when the process is gone
 */
export function peakRssMegabytes(pid: number): number {
  return statusMegabytes(pid, "VmHWM");
}

/**
 * The resident set size of a process now (VmRSS).
 *
 * @returns megabytes (MiB), or NaN when the process is gone
 */
export function rssMegabytes(pid: number): number {
  return statusMegabytes(pid, "VmRSS");
}

/** Finds a program: the first of `candidates` that is an executable file,
 * then `name` on PATH; null when there is none. */
export function findProgram(
  name: string,
  candidates: string[],
): string | null {
  const onPath = (Deno.env.get("PATH") ?? "").split(":").filter((dir) =>
    dir !== ""
  ).map((dir) => `${dir}/${name}`);
  for (const path of [...candidates, ...onPath]) {
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return path;
    } catch {
      // Not there.
    }
  }
  return null;
}

/**
 * Resolves after `ms` milliseconds: the benchmark's fixed windows (warmup,
 * measurement, settling), not a wait for an event.
 *
 * @param ms how long
 * @returns a promise that resolves then
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
