/**
 * The JavaScript cost per echoed message of our server's socket over the
 * Bun and `node:net` adapters, without the kernel: the adapters' `ByteConn`s
 * over stand-in sockets that take every write at once, a socket per
 * connection echoing every message (as the echo benchmark's handler does),
 * 16-byte masked client frames pushed as the transport pushes them. Prints
 * nanoseconds of JavaScript per echo, this checkout's and, with `--base=DIR`,
 * another checkout's, rounds alternating in one process.
 *
 * ```sh
 * bun bench/adapters/overhead.ts --adapter=bun --base=/work/base-15
 * node bench/adapters/overhead.ts --adapter=node --depth=16
 * ```
 *
 * `--depth=N` frames arrive together per push (1: round trip, 16:
 * pipelined), `--conns`, `--rounds`, `--size`.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import process from "node:process";
import { setImmediate } from "node:timers";
import { readFlags } from "../flags.ts";

interface Options {
  adapter: "bun" | "node";
  depth: number;
  conns: number;
  rounds: number;
  size: number;
  base: string | null;
}

function parseOptions(): Options {
  const values = readFlags(process.argv.slice(2));
  return {
    adapter: values.get("adapter") === "node" ? "node" : "bun",
    depth: Number(values.get("depth") ?? 1),
    conns: Number(values.get("conns") ?? 100),
    rounds: Number(values.get("rounds") ?? 6),
    size: Number(values.get("size") ?? 16),
    base: values.get("base") ?? null,
  };
}

/** A masked binary frame of `size` bytes (size < 126). */
function clientFrame(size: number): Uint8Array {
  const frame = new Uint8Array(6 + size);
  frame[0] = 0x82;
  frame[1] = 0x80 | size;
  frame.set([1, 2, 3, 4], 2);
  return frame;
}

/** What a stand-in socket counts. */
interface Counter {
  bytesWritten: number;
}

/** Bun's TCP socket, taking every write at once. */
function fakeBunSocket(counter: Counter) {
  return {
    remoteAddress: "127.0.0.1",
    write(data: Uint8Array, offset = 0, length = data.length - offset): number {
      counter.bytesWritten += length;
      return length;
    },
    pause() {},
    resume() {},
    end() {},
    setNoDelay() {},
  };
}

/** A `node:net` socket whose writes complete at once (callback next tick). */
class FakeNodeSocket extends EventEmitter {
  remoteAddress = "127.0.0.1";
  remotePort = 1;
  destroyed = false;
  writableEnded = false;
  errored = null;
  /** Bytes waiting in the socket: none, every write is taken at once. */
  writableLength = 0;
  readonly #counter: Counter;
  constructor(counter: Counter) {
    super();
    this.#counter = counter;
  }
  setNoDelay(): void {}
  pause(): void {}
  resume(): void {}
  write(data: Uint8Array, callback?: (error?: Error) => void): boolean {
    this.#counter.bytesWritten += data.length;
    if (callback) process.nextTick(callback);
    return true;
  }
  end(callback?: () => void): void {
    if (callback) process.nextTick(callback);
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** One checkout's modules and a way to push bytes into a connection. */
interface Tree {
  name: string;
  open(counter: Counter): (bytes: Uint8Array) => void;
}

async function loadTree(
  name: string,
  root: string,
  adapter: string,
): Promise<Tree> {
  const socketModule = await import(`${root}/socket/websocket.ts`);
  const { createPendingSocket, attachConnection } = socketModule;
  function serve(conn: unknown): void {
    const socket = createPendingSocket("server");
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event: MessageEvent) => socket.send(event.data);
    attachConnection(socket, conn, new Uint8Array(0), {
      protocol: "",
      extensions: "",
    });
  }
  if (adapter === "bun") {
    const { BunConn } = await import(`${root}/bun/conn.ts`);
    return {
      name,
      open(counter) {
        const conn = new BunConn(fakeBunSocket(counter));
        serve(conn);
        return (bytes) => conn.pushed(bytes);
      },
    };
  }
  const { NodeNetConn } = await import(`${root}/node/conn.ts`);
  return {
    name,
    open(counter) {
      const socket = new FakeNodeSocket(counter);
      serve(new NodeNetConn(socket));
      return (bytes) => socket.emit("data", bytes);
    },
  };
}

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Nanoseconds per echo for `tree` over `messages` messages per connection. */
async function measure(
  tree: Tree,
  options: Options,
  messages: number,
): Promise<number> {
  const counter = { bytesWritten: 0 };
  const pushers: Array<(bytes: Uint8Array) => void> = [];
  for (let index = 0; index < options.conns; index++) {
    pushers.push(tree.open(counter));
  }
  await nextMacrotask();
  const frame = clientFrame(options.size);
  const echoBytes = options.size + 2;
  const start = performance.now();
  for (let turn = 0; turn < messages / options.depth; turn++) {
    for (const push of pushers) {
      // A fresh chunk per push, as the runtimes give.
      const chunk = new Uint8Array(frame.length * options.depth);
      for (let index = 0; index < options.depth; index++) {
        chunk.set(frame, index * frame.length);
      }
      push(chunk);
    }
    await nextMacrotask();
  }
  const elapsed = performance.now() - start;
  const echoes = counter.bytesWritten / echoBytes;
  const expected = options.conns * Math.floor(messages / options.depth) *
    options.depth;
  if (echoes !== expected) {
    throw new Error(`${tree.name}: ${echoes} echoes, expected ${expected}`);
  }
  return (elapsed * 1e6) / echoes;
}

const options = parseOptions();
const here = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const trees = [await loadTree("this", here, options.adapter)];
if (options.base !== null) {
  trees.push(await loadTree("base", options.base, options.adapter));
}
const results = new Map<string, number[]>(trees.map((tree) => [tree.name, []]));
await measure(trees[0], options, 2000); // warm up
if (trees.length > 1) await measure(trees[1], options, 2000);
for (let round = 0; round < options.rounds; round++) {
  const order = round % 2 === 0 ? trees : [...trees].reverse();
  for (const tree of order) {
    results.get(tree.name)!.push(await measure(tree, options, 2000));
  }
}
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
const line = [
  `${options.adapter} depth ${options.depth}, ${options.conns} conns, ${options.size} B:`,
];
for (const [name, values] of results) {
  line.push(`${name} ${median(values).toFixed(0)} ns/echo`);
}
if (options.base !== null) {
  line.push(
    `base/this ${
      (median(results.get("base")!) / median(results.get("this")!)).toFixed(2)
    }x`,
  );
}
console.log(line.join("  "));
process.exit(0);
