/**
 * The subscribers of the scale benchmark's fan-out measurement (`main.ts`
 * starts it): opens `perPort` raw WebSocket connections (hand-made
 * handshake and frame reader over `node:net`, so the client costs little)
 * to each port in the JSON argument `{ ports, perPort, phases }`, prints
 * `{"ready":true}`, then counts frames, reading each payload's first 8
 * bytes as its send time. `phases` lists how many messages each phase
 * publishes: once every connection received all of a phase, it prints
 * `{"doneAt":..., "groups":[{p50,p99,count}, ...]}` for that phase (one
 * group per port; latencies in milliseconds).
 *
 * @module
 */

import net from "node:net";

interface Config {
  ports: number[];
  perPort: number;
  phases: number[];
}

const config = JSON.parse(Deno.args.at(-1)!) as Config;
const REQUEST = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

/** Per phase, per port: the latencies. */
const latencies: number[][][] = config.phases.map(() =>
  config.ports.map(() => [])
);
/** Per phase: connections that have not received all of it yet. */
const unfinished = config.phases.map(() =>
  config.ports.length * config.perPort
);
/** Per phase: the message count that ends it, per connection. */
const ends: number[] = [];
for (const count of config.phases) ends.push((ends.at(-1) ?? 0) + count);
const phaseDone = config.phases.map(() => Promise.withResolvers<number>());

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Reads server frames (unmasked) from one connection. */
class FrameCounter {
  #pending: Uint8Array = new Uint8Array(0);
  #upgraded = false;
  count = 0;
  #phase = 0;
  readonly #group: number;

  constructor(group: number) {
    this.#group = group;
  }

  push(chunk: Uint8Array): void {
    let bytes = chunk;
    if (this.#pending.length > 0) {
      bytes = new Uint8Array(this.#pending.length + chunk.length);
      bytes.set(this.#pending);
      bytes.set(chunk, this.#pending.length);
    }
    let offset = 0;
    if (!this.#upgraded) {
      const text = new TextDecoder("latin1").decode(bytes);
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) {
        this.#pending = bytes;
        return;
      }
      if (!text.startsWith("HTTP/1.1 101")) throw new Error(text.slice(0, 80));
      this.#upgraded = true;
      offset = end + 4;
    }
    for (;;) {
      if (bytes.length - offset < 2) break;
      let length = bytes[offset + 1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (bytes.length - offset < 4) break;
        length = (bytes[offset + 2] << 8) | bytes[offset + 3];
        header = 4;
      } else if (length === 127) {
        if (bytes.length - offset < 10) break;
        length = Number(
          new DataView(bytes.buffer, bytes.byteOffset + offset + 2, 8)
            .getBigUint64(0),
        );
        header = 10;
      }
      if (bytes.length - offset < header + length) break;
      const payload = offset + header;
      if (length >= 8) {
        const sent = new DataView(bytes.buffer, bytes.byteOffset + payload, 8)
          .getFloat64(0);
        latencies[this.#phase][this.#group].push(now() - sent);
      }
      offset = payload + length;
      this.count++;
      if (this.count === ends[this.#phase]) {
        if (--unfinished[this.#phase] === 0) {
          phaseDone[this.#phase].resolve(now());
        }
        this.#phase++;
      }
    }
    this.#pending = bytes.slice(offset);
  }
}

const sockets: net.Socket[] = [];
const opened: Promise<void>[] = [];
for (let group = 0; group < config.ports.length; group++) {
  for (let index = 0; index < config.perPort; index++) {
    const counter = new FrameCounter(group);
    const socket = net.connect(config.ports[group], "127.0.0.1");
    sockets.push(socket);
    opened.push(
      new Promise((resolve, reject) => {
        socket.once("error", reject);
        socket.once("data", () => resolve());
        socket.on("connect", () => socket.write(REQUEST));
      }),
    );
    socket.on("data", (chunk: Uint8Array) => counter.push(chunk));
  }
}
await Promise.all(opened);
console.log(JSON.stringify({ ready: true }));

function percentile(sorted: number[], fraction: number): number {
  return sorted[
    Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))
  ];
}

for (let phase = 0; phase < config.phases.length; phase++) {
  const doneAt = await phaseDone[phase].promise;
  const groups = latencies[phase].map((values) => {
    values.sort((a, b) => a - b);
    return {
      count: values.length,
      p50: percentile(values, 0.5),
      p99: percentile(values, 0.99),
    };
  });
  console.log(JSON.stringify({ doneAt, groups }));
}
for (const socket of sockets) socket.destroy();
Deno.exit(0);
