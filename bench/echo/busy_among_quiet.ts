/**
 * One busy connection among many quiet ones: `serve()`'s echo target with
 * N connections that each send a 16-byte message every 300-700 ms (a
 * chat's users) and one that keeps 16 messages of 64 KiB in flight, for
 * the busy connection's echoes per second. The read schedule that keeps
 * thousands of busy connections fair (`deno/fair_reads.ts`) must not hold
 * this one back for the quiet ones' sake.
 *
 * ```sh
 * deno run -A bench/echo/busy_among_quiet.ts --quiet=300,3000 --base=/work/base
 * ```
 *
 * `--base=DIR` also runs the echo target of the checkout in DIR, one after
 * the other per count; `--seconds` is the measured window (4).
 *
 * @module
 */

import { Child, delay, killAll } from "./processes.ts";
import { readFlags } from "../flags.ts";

const HERE = new URL(".", import.meta.url).pathname;
const BUSY_MESSAGE_BYTES = 64 * 1024;
const BUSY_IN_FLIGHT = 16;
const QUIET_MESSAGE = new Uint8Array(16);

interface Options {
  quietCounts: number[];
  base: string | null;
  seconds: number;
}

function parseOptions(): Options {
  const values = readFlags(Deno.args);
  return {
    quietCounts: (values.get("quiet") ?? "300,3000").split(",").map(Number),
    base: values.get("base") ?? null,
    seconds: Number(values.get("seconds") ?? 4),
  };
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
}

/** Echoes per second the busy connection got with `quiet` others. */
async function measure(
  port: number,
  quiet: number,
  seconds: number,
): Promise<number> {
  const url = `ws://127.0.0.1:${port}/`;
  const sockets: WebSocket[] = [];
  const timers: ReturnType<typeof setTimeout>[] = [];
  try {
    for (let index = 0; index < quiet; index++) {
      const socket = await open(url);
      sockets.push(socket);
      const tick = () => {
        socket.send(QUIET_MESSAGE);
        timers[index] = setTimeout(tick, 300 + Math.random() * 400);
      };
      timers[index] = setTimeout(tick, Math.random() * 500);
    }
    const busy = await open(url);
    sockets.push(busy);
    const message = new Uint8Array(BUSY_MESSAGE_BYTES);
    let echoes = 0;
    busy.onmessage = () => {
      echoes++;
      busy.send(message);
    };
    for (let index = 0; index < BUSY_IN_FLIGHT; index++) busy.send(message);
    await delay(1500);
    const before = echoes;
    const start = performance.now();
    await delay(seconds * 1000);
    return (echoes - before) / ((performance.now() - start) / 1000);
  } finally {
    for (const timer of timers) clearTimeout(timer);
    for (const socket of sockets) socket.close();
  }
}

async function run(
  name: string,
  dir: string,
  quiet: number,
  seconds: number,
): Promise<void> {
  const target = new Child(`${name} server`, Deno.execPath(), [
    "run",
    "-A",
    `${dir}/bench/echo/echo_target.ts`,
    "ours",
  ]);
  try {
    const { port } = JSON.parse(await target.nextLine(30_000));
    const rate = await measure(port, quiet, seconds);
    console.log(
      `${quiet} quiet connections, ${name}: the busy one got ${
        Math.round(rate)
      } echoes/s`,
    );
  } finally {
    target.kill();
  }
}

const options = parseOptions();
try {
  for (const quiet of options.quietCounts) {
    await run("this checkout", `${HERE}../..`, quiet, options.seconds);
    if (options.base !== null) {
      await run("base", options.base, quiet, options.seconds);
    }
  }
} finally {
  await killAll();
}
