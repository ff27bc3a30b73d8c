/**
 * One load-client process of the echo benchmark. Runs under Bun or Deno
 * with the runtime's built-in `WebSocket` client; started by `main.ts`,
 * never by hand.
 *
 * Talks to its parent in lines: the configuration arrives as the last
 * command-line argument (JSON, {@linkcode WorkerConfig}); the worker opens
 * its connections and prints `{"type":"ready",...}`; on the line
 * `go <warmupMs> <measureMs>` on stdin every connection starts sending
 * (`depth` messages in flight, a new one for each echo). After the warmup
 * the counters are reset; at the end of the measurement the worker stops
 * sending and prints `{"type":"result",...}` ({@linkcode WorkerResult}).
 * `exit` on stdin, or stdin closing, ends the process.
 *
 * Every echo is checked byte for byte (`message.ts`): right length,
 * sequence number, connection and pattern. A mismatch is counted as an
 * error and the connection stops sending.
 *
 * @module
 */

import process from "node:process";
import { checkEcho, makeMessage } from "./message.ts";
import { type HistogramData, LatencyHistogram } from "./histogram.ts";

/** What the parent asks of one worker. */
export interface WorkerConfig {
  /** Where the echo server is, like `ws://127.0.0.1:1234/`. */
  url: string;
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
  type: "result";
  /** Echoes received in the window. */
  messages: number;
  /** Payload bytes received in the window. */
  bytes: number;
  /** Open connections that received no echo in the window. */
  starved: number;
  /** Connections that closed or failed before the window ended. */
  closed: number;
  /** Echoes that did not match what was sent (whole run). */
  mismatches: number;
  /** The first mismatch, for the report. */
  firstMismatch: string;
  /** Round-trip latencies of the window's echoes. */
  latency: HistogramData;
  /** The window as this worker measured it, in milliseconds. */
  windowMs: number;
}

function writeLine(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + "\n");
}

class LoadConnection {
  socket: WebSocket | null = null;
  open = false;
  /** Sequence number of the next message to send. */
  nextSend = 0;
  /** Sequence number of the next echo expected. */
  nextEcho = 0;
  /** Send times of the messages in flight, by sequence % depth. */
  readonly sentAt: Float64Array;
  /** Echoes received at the start of the window. */
  echoesAtWindowStart = 0;

  constructor(readonly index: number, depth: number) {
    this.sentAt = new Float64Array(depth);
  }
}

class LoadWorker {
  readonly #config: WorkerConfig;
  readonly #connections: LoadConnection[] = [];
  readonly #latency = new LatencyHistogram();
  #sending = false;
  #measuring = false;
  #messages = 0;
  #bytes = 0;
  #closed = 0;
  #mismatches = 0;
  #firstMismatch = "";

  constructor(config: WorkerConfig) {
    this.#config = config;
  }

  /** Opens every connection, a bounded number at a time. */
  async connect(): Promise<{ open: number; failed: number }> {
    const { connections, firstConnection, connectConcurrency } = this.#config;
    for (let offset = 0; offset < connections; offset++) {
      this.#connections.push(
        new LoadConnection(firstConnection + offset, this.#config.depth),
      );
    }
    let next = 0;
    let failed = 0;
    const deadline = Date.now() + this.#config.connectTimeoutMs;
    const lane = async (): Promise<void> => {
      while (next < this.#connections.length && Date.now() < deadline) {
        const connection = this.#connections[next++];
        const opened = await this.#open(connection, deadline - Date.now());
        if (!opened) failed++;
      }
    };
    const lanes: Promise<void>[] = [];
    for (let lane_ = 0; lane_ < connectConcurrency; lane_++) {
      lanes.push(lane());
    }
    await Promise.all(lanes);
    failed += this.#connections.length - next;
    let open = 0;
    for (const connection of this.#connections) if (connection.open) open++;
    return { open, failed };
  }

  #open(connection: LoadConnection, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = new WebSocket(this.#config.url);
      socket.binaryType = "arraybuffer";
      connection.socket = socket;
      const timer = setTimeout(() => {
        try {
          socket.close();
        } catch {
          // Not open yet.
        }
        resolve(false);
      }, Math.max(1, timeoutMs));
      socket.onopen = () => {
        clearTimeout(timer);
        connection.open = true;
        resolve(true);
      };
      socket.onmessage = (event) => this.#onEcho(connection, event.data);
      socket.onerror = () => {};
      socket.onclose = () => {
        clearTimeout(timer);
        if (connection.open && this.#sending) this.#closed++;
        connection.open = false;
        resolve(false);
      };
    });
  }

  #send(connection: LoadConnection): void {
    const { size, depth } = this.#config;
    const sequence = connection.nextSend++;
    connection.sentAt[sequence % depth] = performance.now();
    connection.socket!.send(makeMessage(connection.index, sequence, size));
  }

  #onEcho(connection: LoadConnection, data: unknown): void {
    const now = performance.now();
    const bytes = data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : data instanceof Uint8Array
      ? data
      : null;
    const sequence = connection.nextEcho;
    const mismatch = bytes === null
      ? "type"
      : checkEcho(bytes, connection.index, sequence, this.#config.size);
    if (mismatch !== null) {
      this.#mismatches++;
      if (this.#firstMismatch === "") {
        this.#firstMismatch =
          `connection ${connection.index} message ${sequence}: ${mismatch}`;
      }
      connection.open = false;
      connection.socket?.close();
      return;
    }
    connection.nextEcho++;
    if (this.#measuring) {
      this.#messages++;
      this.#bytes += bytes!.length;
      this.#latency.recordMillis(now - connection.sentAt[sequence % this.#config.depth]);
    }
    if (this.#sending && connection.open) this.#send(connection);
  }

  /** Sends for `warmupMs`, then measures for `measureMs`. */
  async run(warmupMs: number, measureMs: number): Promise<WorkerResult> {
    this.#sending = true;
    for (const connection of this.#connections) {
      if (!connection.open) continue;
      for (let count = 0; count < this.#config.depth; count++) {
        this.#send(connection);
      }
    }
    await delay(warmupMs);
    for (const connection of this.#connections) {
      connection.echoesAtWindowStart = connection.nextEcho;
    }
    this.#latency.clear();
    this.#measuring = true;
    const windowStart = performance.now();
    await delay(measureMs);
    this.#measuring = false;
    this.#sending = false;
    const windowMs = performance.now() - windowStart;
    let starved = 0;
    for (const connection of this.#connections) {
      if (connection.nextEcho === connection.echoesAtWindowStart) starved++;
    }
    return {
      type: "result",
      messages: this.#messages,
      bytes: this.#bytes,
      starved,
      closed: this.#closed,
      mismatches: this.#mismatches,
      firstMismatch: this.#firstMismatch,
      latency: this.#latency.toData(),
      windowMs,
    };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with each stdin line; exits the process when stdin closes. */
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

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[process.argv.length - 1]) as WorkerConfig;
  const worker = new LoadWorker(config);
  // A worker never outlives a stuck parent by much.
  const lifetime = setTimeout(() => process.exit(3), config.connectTimeoutMs + 600_000);
  (lifetime as unknown as { unref?: () => void }).unref?.();
  let started = false;
  readCommands((line) => {
    if (line === "exit") process.exit(0);
    if (line.startsWith("go ") && !started) {
      started = true;
      const [, warmup, measure] = line.split(" ");
      worker.run(Number(warmup), Number(measure)).then(writeLine);
    }
  });
  const { open, failed } = await worker.connect();
  writeLine({ type: "ready", open, failed });
}

main().catch((error) => {
  writeLine({ type: "fatal", message: String(error?.stack ?? error) });
  process.exit(2);
});
