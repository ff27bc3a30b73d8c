/**
 * `--workers N` for the example servers: a supervisor that runs N copies
 * of a server as processes sharing one port (`serve({ reusePort: true })`,
 * Linux: the kernel spreads new connections over them), restarts one that
 * dies, and on SIGINT or SIGTERM passes SIGTERM on and waits for every copy
 * to shut down gracefully. Each copy learns its number from the
 * `RFC6455_WORKER` environment variable.
 *
 * @module
 */

import {
  exitWithUsage,
  type ListenSettings,
  listenSettingsOrExit,
} from "./cli.ts";

/** The environment variable a worker's number (1-based) is passed in. */
export const WORKER_ENV = "RFC6455_WORKER";
/** Shortest time between two starts of the same worker, so that one that
 * dies at once is not restarted in a tight loop: 1 s. */
export const WORKER_RESTART_DELAY_MS = 1_000;

/**
 * Takes `--workers N` / `--workers=N` out of `args`. N of 0 (or `--workers`
 * with `auto`) means one per core.
 *
 * @param args the command line
 * @param cores how many cores there are
 * @returns the worker count (undefined when not asked for) and the rest
 * @throws {RangeError} for a count that is not a whole number from 0 to 1024
 */
export function takeWorkersFlag(
  args: readonly string[],
  cores: number,
): { workers: number | undefined; rest: string[] } {
  const rest: string[] = [];
  let workers: number | undefined;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    let value: string | undefined;
    if (arg === "--workers") value = args[++index] ?? "auto";
    else if (arg.startsWith("--workers=")) value = arg.slice(10);
    else {
      rest.push(arg);
      continue;
    }
    const count = value === "auto" ? 0 : Number(value);
    if (
      value.trim() === "" || !Number.isInteger(count) || count < 0 ||
      count > 1024
    ) {
      throw new RangeError(
        `--workers: "${value}" is not a number of processes`,
      );
    }
    workers = count === 0 ? Math.max(1, cores) : count;
  }
  return { workers, rest };
}

/**
 * An environment variable, or undefined when it is not set or this process
 * may not read it (started with an `--allow-env` list that omits it, as
 * before `--workers` and `REDIS_URL` existed).
 *
 * @param name the variable
 * @returns its value
 */
export function optionalEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/** The worker number this process runs as, or undefined for a process
 * that was not started by the supervisor. */
export function workerNumber(): number | undefined {
  const value = optionalEnv(WORKER_ENV);
  if (value === undefined) return undefined;
  const number = Number(value);
  return Number.isInteger(number) && number > 0 ? number : undefined;
}

/** What {@linkcode serverCommandLineOrExit} read. */
export interface ServerCommandLine {
  /** Where to listen. */
  settings: ListenSettings;
  /** The worker count asked for with `--workers`, or undefined. */
  workers: number | undefined;
  /** The arguments without `--workers`, to pass on to each worker. */
  rest: string[];
}

/**
 * Reads a demo server's command line (`--workers`, `--port`, `--hostname`),
 * or exits with the usage when it is wrong, including `--workers` with
 * port 0 (the processes must share one fixed port).
 *
 * @param name the demo, for messages ("echo server")
 * @param usage the usage line
 * @param defaults the demo's own port and address
 * @returns where to listen, the worker count and the arguments to pass on
 */
export function serverCommandLineOrExit(
  name: string,
  usage: string,
  defaults: ListenSettings,
): ServerCommandLine {
  let workers: number | undefined;
  let rest: string[];
  try {
    ({ workers, rest } = takeWorkersFlag(
      Deno.args,
      navigator.hardwareConcurrency,
    ));
  } catch (error) {
    exitWithUsage(name, (error as Error).message, usage);
  }
  const settings = listenSettingsOrExit(name, usage, defaults, rest);
  if (workers !== undefined && settings.port === 0) {
    exitWithUsage(name, "--workers needs a fixed port, not 0", usage);
  }
  return { settings, workers, rest };
}

/** Options of {@linkcode superviseWorkers}. */
export interface SuperviseOptions {
  /** How many processes. */
  count: number;
  /** The server module to run. */
  script: URL;
  /** The Deno permission flags each process needs. */
  permissions: string[];
  /** The server's own arguments (without `--workers`). */
  args: string[];
  /** Where the supervisor's lines go; default `console.log`. */
  log?: (line: string) => void;
}

/**
 * Runs `count` copies of `script` until SIGINT or SIGTERM, restarting any
 * that exits meanwhile.
 *
 * @param options what to run and how many
 * @returns once every copy has exited after a signal
 */
export async function superviseWorkers(
  options: SuperviseOptions,
): Promise<void> {
  const log = options.log ?? console.log;
  let stopping = false;
  const running = new Map<number, Deno.ChildProcess>();
  const exited: Promise<void>[] = [];

  const start = (number: number): void => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...options.permissions,
        options.script.pathname,
        ...options.args,
      ],
      env: { [WORKER_ENV]: String(number) },
      stdin: "null",
    }).spawn();
    const startedAt = Date.now();
    running.set(number, child);
    log(`supervisor: worker ${number} started (pid ${child.pid})`);
    exited.push(child.status.then(async (status) => {
      running.delete(number);
      if (stopping) return;
      log(
        `worker ${number} (pid ${child.pid}) exited with ${status.code}; restarting it`,
      );
      const wait = WORKER_RESTART_DELAY_MS - (Date.now() - startedAt);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (!stopping) start(number);
    }));
  };

  for (let number = 1; number <= options.count; number++) start(number);
  log(`supervisor: ${options.count} worker processes sharing the port`);
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const { promise: signalled, resolve } = Promise.withResolvers<void>();
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    log("supervisor: stopping every worker (SIGTERM)");
    for (const child of running.values()) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited meanwhile.
      }
    }
    resolve();
  };
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await signalled;
  // Restarts scheduled before the signal add to the list; wait for all.
  for (let index = 0; index < exited.length; index++) await exited[index];
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
}
