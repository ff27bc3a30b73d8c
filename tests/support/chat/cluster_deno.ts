/**
 * Chat server processes for the cluster tests (`cluster_process.ts`),
 * started against one Redis, each stopped gracefully (SIGTERM) or killed
 * (SIGKILL), always bounded in time.
 *
 * @module
 */

import { withDeadline } from "../../interop/peers/bounded.ts";

const PROCESS_DEADLINE_MS = 20_000;
const SCRIPT = new URL("./cluster_process.ts", import.meta.url).pathname;

/** A running chat server process. */
export class ChatProcess {
  readonly port: number;
  readonly #child: Deno.ChildProcess;
  readonly #log: string[];
  #exited = false;
  readonly status: Promise<Deno.CommandStatus>;

  private constructor(child: Deno.ChildProcess, port: number, log: string[]) {
    this.#child = child;
    this.port = port;
    this.#log = log;
    this.status = child.status.then((status) => {
      this.#exited = true;
      return status;
    });
  }

  /** The WebSocket URL of the chat. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Every line the process has logged so far. */
  get log(): string[] {
    return this.#log;
  }

  /** Starts a chat process sharing `redisUrl` and waits for its port. */
  static async start(
    redisUrl: string,
    settings: { presenceTtl?: number; historySize?: number } = {},
  ): Promise<ChatProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SCRIPT, JSON.stringify({ redisUrl, ...settings })],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const log: string[] = [];
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    let resolvePort: (port: number) => void = () => {};
    const port = new Promise<number>((resolve) => resolvePort = resolve);
    void (async () => {
      for (;;) {
        const { value, done } = await lines.read();
        if (done) break;
        pending += value;
        let newline = pending.indexOf("\n");
        while (newline !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.startsWith("PORT ")) resolvePort(Number(line.slice(5)));
          else log.push(line);
          newline = pending.indexOf("\n");
        }
      }
    })().catch(() => {});
    try {
      return new ChatProcess(
        child,
        await withDeadline(
          port,
          PROCESS_DEADLINE_MS,
          "a chat process starting",
        ),
        log,
      );
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      throw error;
    }
  }

  /** SIGKILL: the process ends without closing anything. */
  async kill(): Promise<void> {
    if (this.#exited) return;
    this.#child.kill("SIGKILL");
    await withDeadline(
      this.status,
      PROCESS_DEADLINE_MS,
      "a chat process dying",
    );
  }

  /** SIGTERM, waiting for a graceful exit (killed if it takes too long). */
  async stop(): Promise<Deno.CommandStatus> {
    if (!this.#exited) {
      this.#child.kill("SIGTERM");
      try {
        return await withDeadline(
          this.status,
          PROCESS_DEADLINE_MS,
          "a chat process stopping",
        );
      } catch (error) {
        await this.kill();
        throw error;
      }
    }
    return await this.status;
  }
}
