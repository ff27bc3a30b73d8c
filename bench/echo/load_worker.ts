/**
 * One load-client process of the echo benchmark. Runs under Bun or Deno;
 * started by `main.ts`, never by hand.
 *
 * Talks to its parent in lines: the configuration arrives as the last
 * command-line argument (JSON, {@linkcode WorkerConfig}); the worker opens
 * its connections and prints `{"type":"ready",...}`. Then, on stdin:
 *
 * - `go`: every connection starts sending (`depth` messages in flight, a
 *   new one for each echo);
 * - `status`: prints `{"type":"status","silent":N}`, the open connections
 *   that have had no echo yet (the parent warms up until none are left);
 * - `start`: the measurement window begins (counters from zero);
 * - `stop`: it ends; sending stops and the worker prints
 *   `{"type":"result",...}` ({@linkcode WorkerResult});
 * - `exit` (or stdin closing): the process ends.
 *
 * Connections use the runtime's `WebSocket` client (`transport:
 * "websocket"`) or hand-made frames over TCP (`"tcp"`, `tcp_link.ts`).
 * Every echo is checked byte for byte (`message.ts`): right length,
 * sequence number, connection and pattern. A mismatch is counted and the
 * connection is closed.
 *
 * @module
 */

import process from "node:process";
import { checkEcho } from "./message.ts";
import { type HistogramData, LatencyHistogram } from "./histogram.ts";
import { LoadConnection, type LoadHost, type OpenLink } from "./load_link.ts";
import { openWebSocketLink } from "./websocket_link.ts";
import { openTcpLink } from "./tcp_link.ts";

/** What the parent asks of one worker. */
export interface WorkerConfig {
  /** Where the echo server is, like `ws://127.0.0.1:1234/`. */
  url: string;
  /** "websocket": the runtime's client; "tcp": frames over a raw socket. */
  transport: "websocket" | "tcp";
  /** The tcp transport binds connection i to 127.0.0.(1 + i % this), so
   * more than one source address shares the ephemeral ports. */
  sourceAddresses: number;
  /** Connections this worker opens. */
  connections: number;
  /** Index of this worker's first connection in the whole run. */
  firstConnection: number;
  /** Bytes per message. */
  size: number;
  /** Messages in flight per connection (1 = round trip). */
  depth: number;
  /** Handshakes in progress at once. */
  connectConcurrency: number;
  /** Milliseconds allowed for opening every connection. */
  connectTimeoutMs: number;
}

/** What a worker reports after the measurement window. */
export interface WorkerResult {
  /** Always "result". */
  type: "result";
  /** Echoes received in the window. */
  messages: number;
  /** Payload bytes received in the window. */
  bytes: number;
  /** Connections that received no echo in the window (open or not). */
  starved: number;
  /** Connections that closed after opening, before the window ended. */
  closed: number;
  /** Echoes that did not match what was sent (whole run). */
  mismatches: number;
  /** Connections that waited longer than {@linkcode SLOW_WAIT_MS} for an
   * echo in the window (counting a message still unanswered at its end). */
  slow: number;
  /** The longest any message waited for its echo, ms. */
  longestWaitMs: number;
  /** The first mismatch, for the report. */
  firstMismatch: string;
  /** Round-trip latencies of the window's echoes. */
  latency: HistogramData;
  /** The window as this worker measured it, in milliseconds. */
  windowMs: number;
}

/** A wait for an echo longer than this counts a connection as slow: 1 s. */
export const SLOW_WAIT_MS = 1000;

function writeLine(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + "\n");
}

class LoadWorker implements LoadHost {
  readonly size: number;
  readonly #config: WorkerConfig;
  readonly #open: OpenLink;
  readonly #connections: LoadConnection[] = [];
  readonly #latency = new LatencyHistogram();
  #sending = false;
  #measuring = false;
  #messages = 0;
  #bytes = 0;
  #closed = 0;
  #mismatches = 0;
  #firstMismatch = "";
  #windowStart = 0;

  constructor(config: WorkerConfig) {
    this.#config = config;
    this.size = config.size;
    this.#open = config.transport === "tcp" ? openTcpLink : openWebSocketLink;
  }

  takeSequence(connection: LoadConnection, now: number): number {
    const sequence = connection.nextSend++;
    connection.sentAt[sequence % this.#config.depth] = now;
    return sequence;
  }

  received(
    connection: LoadConnection,
    payload: Uint8Array,
    now: number,
  ): number {
    if (connection.refused) return 0;
    const sequence = connection.nextEcho;
    const mismatch = checkEcho(payload, connection.index, sequence, this.size);
    if (mismatch !== null) {
      this.refused(connection, `message ${sequence}: ${mismatch}`);
      return 0;
    }
    connection.nextEcho++;
    if (this.#measuring) {
      this.#messages++;
      this.#bytes += payload.length;
      const wait = now - connection.sentAt[sequence % this.#config.depth];
      this.#latency.recordMillis(wait);
      if (wait > connection.longestWaitMs) connection.longestWaitMs = wait;
    }
    return this.#sending && connection.open ? 1 : 0;
  }

  refused(connection: LoadConnection, reason: string): void {
    if (connection.refused) return;
    connection.refused = true;
    this.#mismatches++;
    if (this.#firstMismatch === "") {
      this.#firstMismatch = `connection ${connection.index} ${reason}`;
    }
    connection.close();
  }

  closed(_connection: LoadConnection): void {
    if (this.#sending) this.#closed++;
  }

  /** Opens every connection, a bounded number at a time. */
  async connect(): Promise<
    { open: number; failed: number; extensions: string[] }
  > {
    const { connections, firstConnection, connectConcurrency, depth } =
      this.#config;
    for (let offset = 0; offset < connections; offset++) {
      this.#connections.push(
        new LoadConnection(firstConnection + offset, depth),
      );
    }
    let next = 0;
    const deadline = Date.now() + this.#config.connectTimeoutMs;
    const lane = async (): Promise<void> => {
      while (next < this.#connections.length && Date.now() < deadline) {
        const connection = this.#connections[next++];
        await this.#open(this.#config, connection, this, deadline - Date.now());
      }
    };
    const lanes: Promise<void>[] = [];
    for (let count = 0; count < connectConcurrency; count++) {
      lanes.push(lane());
    }
    await Promise.all(lanes);
    let open = 0;
    const extensions = new Set<string>();
    for (const connection of this.#connections) {
      if (connection.open) open++;
      if (connection.extensions !== "") extensions.add(connection.extensions);
    }
    return {
      open,
      failed: this.#connections.length - open,
      extensions: [...extensions],
    };
  }

  /** Starts sending: `depth` messages on every open connection. */
  go(): void {
    this.#sending = true;
    for (const connection of this.#connections) {
      if (connection.open) connection.sendMessages(this.#config.depth);
    }
  }

  /** Open connections that have not received any echo yet. */
  silent(): number {
    let count = 0;
    for (const connection of this.#connections) {
      if (connection.open && connection.nextEcho === 0) count++;
    }
    return count;
  }

  /** Starts the measurement window: counters from zero. */
  startWindow(): void {
    for (const connection of this.#connections) {
      connection.echoesAtWindowStart = connection.nextEcho;
      connection.longestWaitMs = 0;
    }
    this.#latency.clear();
    this.#messages = 0;
    this.#bytes = 0;
    this.#measuring = true;
    this.#windowStart = performance.now();
  }

  /** Ends the window, stops sending and returns what was measured. */
  stopWindow(): WorkerResult {
    this.#measuring = false;
    this.#sending = false;
    const now = performance.now();
    const windowMs = now - this.#windowStart;
    let starved = 0;
    let slow = 0;
    let longestWaitMs = 0;
    for (const connection of this.#connections) {
      if (connection.nextEcho === connection.echoesAtWindowStart) starved++;
      let wait = connection.longestWaitMs;
      if (connection.nextEcho < connection.nextSend) {
        const oldest =
          connection.sentAt[connection.nextEcho % this.#config.depth];
        wait = Math.max(wait, now - oldest);
      }
      if (wait > SLOW_WAIT_MS) slow++;
      longestWaitMs = Math.max(longestWaitMs, wait);
    }
    return {
      type: "result",
      messages: this.#messages,
      bytes: this.#bytes,
      starved,
      closed: this.#closed,
      mismatches: this.#mismatches,
      slow,
      longestWaitMs,
      firstMismatch: this.#firstMismatch,
      latency: this.#latency.toData(),
      windowMs,
    };
  }
}

/** Calls `onLine` with each stdin line; exits the process when stdin ends. */
function readCommands(onLine: (line: string) => void): void {
  let pending = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      onLine(pending.slice(0, newline).trim());
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
}

/** The most a worker lives after its connect timeout: ten minutes. */
const MAX_RUN_MS = 600_000;

async function main(): Promise<void> {
  const config = JSON.parse(
    process.argv[process.argv.length - 1],
  ) as WorkerConfig;
  const worker = new LoadWorker(config);
  // A worker never outlives a stuck parent by much.
  const lifetime = setTimeout(
    () => process.exit(3),
    config.connectTimeoutMs + MAX_RUN_MS,
  );
  (lifetime as unknown as { unref?: () => void }).unref?.();
  readCommands((line) => {
    if (line === "exit") process.exit(0);
    else if (line === "go") worker.go();
    else if (line === "status") {
      writeLine({ type: "status", silent: worker.silent() });
    } else if (line === "start") worker.startWindow();
    else if (line === "stop") writeLine(worker.stopWindow());
  });
  writeLine({ type: "ready", ...await worker.connect() });
}

main().catch((error) => {
  writeLine({ type: "fatal", message: String(error?.stack ?? error) });
  process.exit(2);
});
