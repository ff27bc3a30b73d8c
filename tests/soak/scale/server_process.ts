// Starts tests/scale/server.ts as a subprocess, reads its port, asks it for
// its memory, and stops it with SIGTERM (it must exit 0). Used by the
// scale run, the CI scale test and the slowloris test.
import type { ServerStats } from "./server.ts";
import { withDeadline } from "../../interop/peers/bounded.ts";

export type { ServerStats } from "./server.ts";

/** How long the server may take to start or to stop, in milliseconds. */
const START_STOP_DEADLINE = 30_000;

/** Options of {@linkcode startScaleServer}. */
export interface ScaleServerOptions {
  /** ServeOptions.maxConnections. */
  maxConnections: number;
  /** ServeOptions.headersTimeout, in milliseconds. */
  headersTimeout?: number;
  /** Where to listen; "0.0.0.0" lets clients spread over 127.0.0.x. */
  hostname?: string;
}

/** A running scale server. */
export class ScaleServer {
  readonly port: number;
  readonly #child: Deno.ChildProcess;
  readonly #stdout: ReadableStreamDefaultReader<string>;
  readonly #stderr: Promise<string>;
  readonly #status: Promise<Deno.CommandStatus>;
  #exited = false;

  private constructor(
    child: Deno.ChildProcess,
    stdout: ReadableStreamDefaultReader<string>,
    stderr: Promise<string>,
    port: number,
  ) {
    this.#child = child;
    this.#stdout = stdout;
    this.#stderr = stderr;
    this.port = port;
    this.#status = child.status.then((status) => {
      this.#exited = true;
      return status;
    });
  }

  /** Spawns the server and waits for its port. */
  static async start(options: ScaleServerOptions): Promise<ScaleServer> {
    const args = [
      "run",
      "--allow-net",
      "--v8-flags=--expose-gc",
      new URL("./server.ts", import.meta.url).pathname,
      "--max-connections",
      String(options.maxConnections),
      "--hostname",
      options.hostname ?? "127.0.0.1",
    ];
    if (options.headersTimeout !== undefined) {
      args.push("--headers-timeout", String(options.headersTimeout));
    }
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const stdout = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    try {
      let output = "";
      while (!output.includes("\n")) {
        const { value, done } = await withDeadline(
          stdout.read(),
          START_STOP_DEADLINE,
          "the scale server's port",
        );
        if (done) throw new Error(`the scale server ended: ${await stderr}`);
        output += value;
      }
      const { port } = JSON.parse(output.slice(0, output.indexOf("\n")));
      return new ScaleServer(child, stdout, stderr, port);
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      await stdout.cancel().catch(() => {});
      await stderr;
      throw error;
    }
  }

  /** The process id, for /proc. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The server's memory after a full GC, and its open sockets. Asked
   * over a raw connection that is closed after the answer, so it holds no
   * slot afterwards. */
  async stats(): Promise<ServerStats> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
    try {
      const request = "GET /stats HTTP/1.1\r\nHost: scale\r\n" +
        "Connection: close\r\n\r\n";
      await conn.write(new TextEncoder().encode(request));
      const text = await withDeadline(
        new Response(conn.readable).text(),
        START_STOP_DEADLINE,
        "GET /stats",
      );
      const bodyStart = text.indexOf("\r\n\r\n");
      if (!text.startsWith("HTTP/1.1 200 ") || bodyStart === -1) {
        throw new Error(`GET /stats: ${text.slice(0, 200)}`);
      }
      return JSON.parse(text.slice(bodyStart + 4));
    } finally {
      try {
        conn.close();
      } catch {
        // The readable closed it already.
      }
    }
  }

  /** SIGTERM, then the exit code (SIGKILL if it does not exit in time). */
  async stop(): Promise<number> {
    if (!this.#exited) this.#child.kill("SIGTERM");
    try {
      const status = await withDeadline(
        this.#status,
        START_STOP_DEADLINE,
        "the scale server's exit",
      );
      return status.code;
    } catch (error) {
      this.#child.kill("SIGKILL");
      await this.#status;
      throw error;
    } finally {
      while (!(await this.#stdout.read()).done);
      await this.#stderr;
    }
  }

  /** Kills the server at once (cleanup after a failure). */
  async kill(): Promise<void> {
    if (!this.#exited) this.#child.kill("SIGKILL");
    await this.#status;
    await this.#stdout.cancel().catch(() => {});
    await this.#stderr;
  }

  /** What the server wrote to stderr (once it exited). */
  get stderr(): Promise<string> {
    return this.#stderr;
  }
}
