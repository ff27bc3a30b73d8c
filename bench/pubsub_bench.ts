/**
 * `deno bench -A bench/pubsub_bench.ts`: fan-out of one 1 KiB message to
 * 1,000 server sockets, `TopicRegistry.publish` (framed once, the same bytes
 * queued to every socket) against a loop of `socket.send` (framed once per
 * socket). The sockets run over in-memory connections whose writes complete
 * at once, so the numbers are the library's own cost, without the kernel.
 *
 * Two groups:
 * - "queue": only the fan-out call is timed (framing and queueing);
 * - "queue+write": the fan-out and every socket's write to its connection.
 *
 * Every iteration waits until all sockets have written everything, so
 * nothing piles up between iterations.
 *
 * @module
 */

import { TopicRegistry } from "../socket/pubsub.ts";
import {
  attachConnection,
  createPendingSocket,
  queueEncodedFrame,
  type WebSocketConnection,
} from "../socket/websocket.ts";
import type { ByteConn } from "../socket/transport.ts";

/** How many subscribers the message fans out to. */
export const SUBSCRIBERS = 1_000;
/** The payload size in bytes. */
export const MESSAGE_BYTES = 1024;

/** Counts writes across every connection; `expect(n)` waits for n more. */
class WriteCounter {
  #remaining = 0;
  #done: (() => void) | null = null;

  expect(count: number): Promise<void> {
    this.#remaining = count;
    return new Promise((resolve) => this.#done = resolve);
  }

  wrote(): void {
    this.#remaining--;
    if (this.#remaining === 0) this.#done?.();
  }
}

/** A connection that takes every write at once and never sends anything. */
class SinkConn implements ByteConn {
  readonly #counter: WriteCounter;
  #stopReading: ((value: null) => void) | null = null;

  constructor(counter: WriteCounter) {
    this.#counter = counter;
  }

  read(): Promise<number | null> {
    return new Promise((resolve) => this.#stopReading = resolve);
  }

  write(data: Uint8Array): Promise<number> {
    this.#counter.wrote();
    return Promise.resolve(data.length);
  }

  close(): void {
    this.#stopReading?.(null);
  }
}

const counter = new WriteCounter();
const topics = new TopicRegistry(queueEncodedFrame);
const sockets: WebSocketConnection[] = [];
for (let index = 0; index < SUBSCRIBERS; index++) {
  const socket = createPendingSocket("server", { pingInterval: 0 }, topics);
  attachConnection(socket, new SinkConn(counter), new Uint8Array(0), {
    protocol: "",
    extensions: "",
  });
  socket.subscribe("bench");
  sockets.push(socket);
}

const text = "x".repeat(MESSAGE_BYTES);
const bytes = new Uint8Array(MESSAGE_BYTES).fill(7);

function publishText(): void {
  topics.publish("bench", text);
}
function sendTextLoop(): void {
  for (const socket of sockets) socket.send(text);
}
function publishBytes(): void {
  topics.publish("bench", bytes);
}
function sendBytesLoop(): void {
  for (const socket of sockets) socket.send(bytes);
}

/** Times only `fanOut`, then waits for every write outside the timing. */
function queueOnly(fanOut: () => void) {
  return async (b: Deno.BenchContext): Promise<void> => {
    const written = counter.expect(SUBSCRIBERS);
    b.start();
    fanOut();
    b.end();
    await written;
  };
}

/** Times `fanOut` and every socket's write. */
function queueAndWrite(fanOut: () => void) {
  return async (): Promise<void> => {
    const written = counter.expect(SUBSCRIBERS);
    fanOut();
    await written;
  };
}

const cases: Array<[string, () => void, boolean]> = [
  ["text: publish", publishText, false],
  ["text: send loop", sendTextLoop, true],
  ["binary: publish", publishBytes, false],
  ["binary: send loop", sendBytesLoop, true],
];

for (const [name, fanOut, baseline] of cases) {
  Deno.bench({
    name: `${name} (queue)`,
    group: `fan-out 1 KiB to ${SUBSCRIBERS} (queue), ${name.split(":")[0]}`,
    baseline,
    fn: queueOnly(fanOut),
  });
  Deno.bench({
    name: `${name} (queue+write)`,
    group: `fan-out 1 KiB to ${SUBSCRIBERS} (queue+write), ${
      name.split(":")[0]
    }`,
    baseline,
    fn: queueAndWrite(fanOut),
  });
}
