/**
 * A real `redis-server` for the tests and benchmarks, on a free loopback
 * port: redis-server cannot pick a free port itself, so one is found by
 * binding a probe socket to port 0 first. It runs with no RDB snapshots and
 * with an append-only file written on every command (`appendfsync always`)
 * in a temporary directory, so a restart (even after SIGKILL) keeps every
 * write it acknowledged. `stop()` always ends the process and removes the
 * directory.
 *
 * Deno only (it spawns a process). `REDIS_SERVER` names another binary.
 *
 * @module
 */

import { IN_CI, withDeadline } from "../interop/peers/bounded.ts";

/** How long starting or stopping redis-server may take. */
const START_STOP_MS = 10_000;

/** Where redis-server is looked for. */
export const REDIS_SERVER_BINARY: string = Deno.env.get("REDIS_SERVER") ??
  "redis-server";

/** Whether redis-server can be run here. */
export function redisServerAvailable(): boolean {
  try {
    const { success } = new Deno.Command(REDIS_SERVER_BINARY, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return success;
  } catch {
    return false;
  }
}

/**
 * Whether tests that need redis-server should be skipped: only when it is
 * missing outside CI (in CI a missing server fails the tests instead).
 */
export function skipWithoutRedis(): boolean {
  return !IN_CI && !redisServerAvailable();
}

/** A port nothing listens on right now, found by binding port 0. */
export function freeLoopbackPort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

/** One redis-server process, restartable on the same port and data. */
export class RedisServer {
  readonly port: number;
  readonly url: string;
  readonly #directory: string;
  #child: Deno.ChildProcess | null = null;

  private constructor(port: number, directory: string) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.#directory = directory;
  }

  /** Starts a server on a free port and waits until it accepts commands. */
  static async start(): Promise<RedisServer> {
    const directory = await Deno.makeTempDir({ prefix: "rfc6455-redis-" });
    const server = new RedisServer(freeLoopbackPort(), directory);
    try {
      await server.restart();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.#child !== null;
  }

  /** Starts the process again (same port, same data); it must be stopped. */
  async restart(): Promise<void> {
    if (this.#child !== null) throw new Error("redis-server is running");
    const child = new Deno.Command(REDIS_SERVER_BINARY, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.#directory,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--daemonize",
        "no",
        "--loglevel",
        "notice",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    await withDeadline(
      this.#waitReady(child),
      START_STOP_MS,
      `redis-server on port ${this.port} starting`,
    );
  }

  /** Reads the log until redis-server says it accepts connections (after
   * loading its data), then keeps draining it. */
  async #waitReady(child: Deno.ChildProcess): Promise<void> {
    const lines = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let seen = "";
    for (;;) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`redis-server exited: ${seen.slice(-500)}`);
      seen += value;
      if (seen.includes("Ready to accept connections")) break;
    }
    void (async () => {
      while (!(await lines.read()).done) {
        // Discard the rest of the log.
      }
    })().catch(() => {});
  }

  /**
   * Ends the process (SIGKILL: nothing it had not written to its
   * append-only file survives) and waits for it.
   */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await withDeadline(child.status, START_STOP_MS, "redis-server exiting");
  }

  /** Ends the process and removes its data. */
  async stop(): Promise<void> {
    await this.kill();
    await Deno.remove(this.#directory, { recursive: true }).catch(() => {});
  }
}
