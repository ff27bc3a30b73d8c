// Deno only: 1,000 slowloris connections against a server in its own
// process (tests/scale/server.ts, so its memory is measured alone). Each
// trickles a request head that never ends; every one must be answered 408
// and closed by the head timeout, a normal client must be served while
// they are all open, and the server's memory must stay bounded (its RSS
// is printed).
import assert from "node:assert/strict";
import { withDeadline } from "../interop/peers/bounded.ts";
import { openFilesLimit } from "./scale/run.ts";
import { ScaleServer } from "./scale/server_process.ts";

/** Slowloris connections. */
const SLOW_CONNECTIONS = 1_000;
/** The server's headersTimeout: long enough for the normal client to be
 * served while every slow connection is still open, even on a slow
 * machine. */
const HEADERS_TIMEOUT = 3_000;
/** Each slow connection sends one more byte this often. */
const TRICKLE_INTERVAL = 200;
/** Everything must be over well within this. */
const DEADLINE = 60_000;
/** A generous bound on the server's memory per slow connection. */
const MAX_RSS_PER_CONNECTION = 256 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A connection that sends its head a byte at a time, forever. */
class SlowClient {
  readonly conn: Deno.Conn;
  readonly #head = encoder.encode(
    "GET / HTTP/1.1\r\nHost: slow\r\nX-Padding: " + "a".repeat(8000),
  );
  #sent = 0;
  #writing = false;
  /** Whether the server answered (or ended the connection) already. */
  answered = false;
  /** The status the server answered with and whether TCP ended after it. */
  readonly answer: Promise<{ status: number; ended: boolean }>;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.answer = this.#readAnswer();
  }

  /** Sends the next byte, unless the previous one is still being written
   * or the server has answered. */
  trickle(): void {
    if (this.#writing || this.#sent >= this.#head.length) return;
    this.#writing = true;
    this.conn.write(this.#head.subarray(this.#sent, this.#sent + 1)).then(
      (count) => this.#sent += count,
      () => this.#sent = this.#head.length, // the server closed: stop
    ).finally(() => this.#writing = false);
  }

  async #readAnswer(): Promise<{ status: number; ended: boolean }> {
    let text = "";
    const buffer = new Uint8Array(1024);
    try {
      while (true) {
        const count = await this.conn.read(buffer);
        if (count === null) break;
        text += decoder.decode(buffer.subarray(0, count));
      }
      return { status: Number(text.slice(9, 12)), ended: true };
    } catch {
      return { status: Number(text.slice(9, 12)), ended: false };
    } finally {
      this.answered = true;
      this.#sent = this.#head.length;
      try {
        this.conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}

/** A WebSocket client that connects, echoes one message and closes. */
async function normalClient(port: number): Promise<void> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/normal`);
  const closed = new Promise<CloseEvent>((resolve) => socket.onclose = resolve);
  try {
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("the normal client failed"));
    });
    const echo = new Promise<string>((resolve) => {
      socket.onmessage = (event) => resolve(event.data);
    });
    socket.send("served despite the slowloris");
    assert.equal(await echo, "served despite the slowloris");
    socket.close(1000);
    assert.equal((await closed).code, 1000);
  } finally {
    if (socket.readyState !== WebSocket.CLOSED) {
      socket.close();
      await closed;
    }
  }
}

Deno.test(`slowloris: ${SLOW_CONNECTIONS} connections trickling a head are all closed by the head timeout with 408, a normal client is served meanwhile, memory stays bounded`, async () => {
  const limit = await openFilesLimit();
  assert.ok(
    limit === null || limit >= SLOW_CONNECTIONS + 200,
    `the open-files limit (${limit}) is too low: ulimit -n 65536`,
  );
  const server = await ScaleServer.start({
    maxConnections: SLOW_CONNECTIONS + 100,
    headersTimeout: HEADERS_TIMEOUT,
  });
  const clients: SlowClient[] = [];
  let interval: ReturnType<typeof setInterval> | undefined;
  try {
    const before = await server.stats();
    for (let index = 0; index < SLOW_CONNECTIONS; index++) {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      clients.push(new SlowClient(conn));
    }
    interval = setInterval(() => {
      for (const client of clients) client.trickle();
    }, TRICKLE_INTERVAL);
    for (const client of clients) client.trickle();

    await withDeadline(normalClient(server.port), DEADLINE, "normal client");
    const answeredMeanwhile = clients.filter((client) => client.answered)
      .length;
    const during = await server.stats();
    assert.ok(
      answeredMeanwhile < SLOW_CONNECTIONS,
      "the normal client was served while slow connections were open",
    );

    const answers = await withDeadline(
      Promise.all(clients.map((client) => client.answer)),
      DEADLINE,
      "the 408 answers",
    );
    clearInterval(interval);
    interval = undefined;
    const statuses = new Map<string, number>();
    for (const { status, ended } of answers) {
      const key = `${status}${ended ? "" : " (reset)"}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(statuses), {
      "408": SLOW_CONNECTIONS,
    });
    const after = await server.stats();
    const delta = during.rss - before.rss;
    console.log(
      `server RSS ${(before.rss / 2 ** 20).toFixed(1)} MiB before, ` +
        `${(during.rss / 2 ** 20).toFixed(1)} MiB with ${SLOW_CONNECTIONS} ` +
        `slow connections open (+${
          (delta / 1024 / SLOW_CONNECTIONS).toFixed(1)
        } KiB each), ` +
        `${(after.rss / 2 ** 20).toFixed(1)} MiB after; V8 heap ` +
        `${(before.heapUsed / 2 ** 20).toFixed(1)} / ${
          (during.heapUsed / 2 ** 20).toFixed(1)
        } / ${(after.heapUsed / 2 ** 20).toFixed(1)} MiB; ` +
        `${answeredMeanwhile} answered before the normal client was done`,
    );
    assert.ok(
      delta < MAX_RSS_PER_CONNECTION * SLOW_CONNECTIONS,
      `RSS grew by ${delta} bytes`,
    );
    assert.equal(await server.stop(), 0);
  } catch (error) {
    await server.kill();
    throw error;
  } finally {
    clearInterval(interval);
    for (const client of clients) {
      try {
        client.conn.close();
      } catch {
        // Closed after its answer.
      }
    }
    await Promise.all(clients.map((client) => client.answer));
  }
});
