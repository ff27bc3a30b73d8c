/**
 * Helpers that keep the Deno-only integration tests bounded in time and
 * honest about missing tools: deadlines for promises, subprocesses that are
 * killed when they overrun, and the rule for a peer program that is not
 * installed (skipped on a developer's machine, a failure in CI).
 *
 * @module
 */

/** True when running in CI, where every peer must be present. */
export const IN_CI: boolean = (Deno.env.get("CI") ?? "") !== "" &&
  Deno.env.get("CI") !== "false";

/**
 * Resolves or rejects like `promise`, but rejects with a message naming
 * `what` if it takes longer than `milliseconds`. The timer is always cleared.
 *
 * @param promise the work to wait for
 * @param milliseconds the deadline
 * @param what a description for the timeout error
 * @returns the promise's value
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  milliseconds: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no result within ${milliseconds} ms`)),
      milliseconds,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a finished subprocess left behind. */
export interface ProcessResult {
  /** The exit code (non-zero, and `timedOut` true, when it was killed). */
  code: number;
  /** Whether the deadline passed and the process was killed. */
  timedOut: boolean;
  /** Everything it wrote to stdout. */
  stdout: string;
  /** Everything it wrote to stderr. */
  stderr: string;
}

/**
 * Runs a program to completion with no stdin, killing it with SIGKILL if it
 * runs longer than `milliseconds`.
 *
 * @param program the executable (a path or a name looked up on PATH)
 * @param args its arguments
 * @param milliseconds the deadline
 * @param env extra environment variables
 * @param cwd the working directory; default the current one
 * @returns its exit code and output
 */
export async function runBounded(
  program: string,
  args: string[],
  milliseconds: number,
  env: Record<string, string> = {},
  cwd?: string,
): Promise<ProcessResult> {
  const child = new Deno.Command(program, {
    args,
    env,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited between the deadline and the kill.
    }
  }, milliseconds);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      timedOut,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether `program args...` runs and exits 0 within 20 seconds. Used to
 * detect optional peers (bun, a python with `websockets`).
 *
 * @param program the executable
 * @param args its arguments
 * @returns true when it ran successfully
 */
export async function runsSuccessfully(
  program: string,
  args: string[],
): Promise<boolean> {
  try {
    const result = await runBounded(program, args, 20_000);
    return result.code === 0;
  } catch {
    return false;
  }
}

/** Whether a file exists at `path`. */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `skip` option for tests that need a tool: a reason to skip when the
 * tool is missing on a developer's machine (and, once per tool, a line on
 * stderr saying what is missing and how to install it), `false` (run, and
 * fail loudly) when it is present or when running in CI, where it must be
 * present.
 *
 * @param available whether the tool was found
 * @param what the tool, named in the skip reason
 * @returns the value for the test's `skip` option
 */
export function skipUnlessAvailable(
  available: boolean,
  what: string,
): string | false {
  if (available || IN_CI) return false;
  if (!announcedMissing.has(what)) {
    announcedMissing.add(what);
    console.warn(
      `skipping the tests that need ${what}: not found here; ${
        installHint(what)
      } (.ci/run installs everything)`,
    );
  }
  return `${what} is not installed here (.ci/run installs it)`;
}

/** Peers already reported missing, so each is named once per run. */
const announcedMissing = new Set<string>();

/** How to get a missing peer. */
function installHint(what: string): string {
  if (/chromium/i.test(what)) {
    return "install it with `apt-get install chromium`";
  }
  if (/python/i.test(what)) {
    return "install it with `apt-get install python3-websockets`";
  }
  if (what === "bun") return "put it on PATH with `npm install -g bun@1`";
  if (what === "node") return "install Node.js 22 or later";
  if (what === "node 24") {
    return "set RFC6455_NODE24 to a Node 24 (`npm install node@24`)";
  }
  return "install it";
}

/** A server running in a subprocess. */
export interface ProcessServer {
  /** Base URL without a path, like `ws://127.0.0.1:12345`. */
  url: string;
  /** Closes its stdin, waits for it to exit (killed past the deadline). */
  close(): Promise<void>;
}

/**
 * Starts a WebSocket server process that prints its port on its first line
 * of stdout and serves until its stdin closes.
 *
 * @param program the executable
 * @param args its arguments
 * @param name what to call it in errors
 * @param startMilliseconds how long it may take to print its port
 * @param stopMilliseconds how long it may take to exit once told, before
 * it is killed
 * @returns the running server
 * @throws Error when it exits or is silent before printing its port
 */
export async function startProcessServer(
  program: string,
  args: string[],
  name: string,
  startMilliseconds: number,
  stopMilliseconds: number,
): Promise<ProcessServer> {
  const child = new Deno.Command(program, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  const readPort = async (): Promise<string> => {
    let printed = "";
    while (!printed.includes("\n")) {
      const { value, done } = await stdout.read();
      if (done) throw new Error(`${name} exited: ${await stderr}`);
      printed += value;
    }
    return printed.slice(0, printed.indexOf("\n")).trim();
  };
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const timer = setTimeout(() => child.kill("SIGKILL"), stopMilliseconds);
      try {
        await child.stdin.close().catch(() => {});
        while (!(await stdout.read()).done);
        await child.status;
        await stderr;
      } finally {
        clearTimeout(timer);
      }
    })();
    return stopped;
  };
  try {
    const port = await withDeadline(
      readPort(),
      startMilliseconds,
      `${name} start`,
    );
    return { url: `ws://127.0.0.1:${port}`, close: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
