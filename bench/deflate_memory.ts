/**
 * Server memory per compressing connection, for each preset of the
 * `./deflate` entry: a server process (`serve()`, one per preset, and one
 * without compression as the baseline) accepts N connections from a client
 * process (the npm `ws` client in Node, which offers `client_max_window_bits`
 * as Chromium does), each of which sends three chat messages and reads
 * their compressed echoes, so that every connection's compressor and
 * inflater window exist. Then the server collects garbage and reports its
 * RSS; (RSS - baseline RSS) / N is the cost of one compressing connection.
 *
 * ```sh
 * deno run -A bench/deflate_memory.ts [connections...]   # default 1000 10000
 * ```
 *
 * @module
 */

import { serve, upgradeWebSocket } from "../mod.ts";
import { type CompressionPreset, perMessageDeflate } from "../deflate.ts";

const PRESETS: Array<CompressionPreset | "off"> = [
  "off",
  "shared",
  "dedicated-4k",
  "dedicated-16k",
  "dedicated-32k",
  "dedicated-64k",
  "dedicated-256k",
];

const CLIENT = `
import { WebSocket } from "ws";
const [url, count] = [process.argv.at(-2), Number(process.argv.at(-1))];
const sockets = [];
const message = (i) => JSON.stringify({ type: "message", username: "user" + (i % 7),
  room: "lobby", text: "Hello everyone, message " + i + ". How are you?", ts: 1767225600000 + i });
async function one(i) {
  const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 } });
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  let got = 0;
  const done = new Promise((resolve) => ws.on("message", () => { if (++got === 3) resolve(); }));
  for (let k = 0; k < 3; k++) ws.send(message(i * 3 + k));
  await done;
  sockets.push(ws);
}
for (let start = 0; start < count; start += 200) {
  const batch = [];
  for (let i = start; i < Math.min(count, start + 200); i++) batch.push(one(i));
  await Promise.all(batch);
}
console.log("ready");
process.stdin.on("data", () => {});
process.stdin.on("end", () => { for (const ws of sockets) ws.terminate(); process.exit(0); });
`;

/** The server side: serves with a preset, reports RSS on each stdin line. */
async function runServer(preset: CompressionPreset | "off"): Promise<void> {
  const setup = preset === "off" ? false : perMessageDeflate({ preset });
  let agreed = 0; // reported, so a run that agreed nothing shows
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, maxConnections: 20_000 },
    (request) => {
      const { socket, response } = upgradeWebSocket(request, {
        perMessageDeflate: setup,
        pingInterval: 0,
      });
      socket.onopen = () => {
        if (socket.extensions !== "") agreed++;
      };
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    },
  );
  console.log(server.addr.port);
  const gc = (globalThis as { gc?: () => void }).gc;
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  for await (const _ of lines) {
    for (let i = 0; i < 3; i++) gc?.();
    const { rss, heapUsed, external } = Deno.memoryUsage();
    console.log(JSON.stringify({ rss, heapUsed, external, agreed }));
  }
  await server.shutdown();
}

async function readLine(reader: ReadableStreamDefaultReader<string>) {
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`ended early: ${text}`);
    text += value;
  }
  return text.trim();
}

async function measure(
  preset: CompressionPreset | "off",
  connections: number,
): Promise<{ rss: number; heapUsed: number; agreed: number }> {
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "server",
      preset,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const serverOut = server.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  const serverIn = server.stdin.getWriter();
  const port = await readLine(serverOut);
  const client = new Deno.Command("node", {
    args: [
      "--input-type=module",
      "-e",
      CLIENT,
      `ws://127.0.0.1:${port}/`,
      String(connections),
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const clientOut = client.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  await readLine(clientOut);
  await serverIn.write(new TextEncoder().encode("rss\n"));
  const usage = JSON.parse(await readLine(serverOut));
  await client.stdin.close();
  await client.status;
  await serverIn.close();
  await server.status;
  return usage;
}

if (Deno.args[0] === "server") {
  await runServer(Deno.args[1] as CompressionPreset | "off");
} else {
  const counts = Deno.args.length > 0 ? Deno.args.map(Number) : [1000, 10000];
  console.log(`deno ${Deno.version.deno}: server RSS after gc`);
  for (const connections of counts) {
    const baseline = await measure("off", connections);
    console.log(
      `\n${connections} connections; without compression: ${
        (baseline.rss / 2 ** 20).toFixed(0)
      } MiB RSS`,
    );
    console.log("preset          RSS MiB   per connection (RSS)   (JS heap)");
    for (const preset of PRESETS.slice(1)) {
      const usage = await measure(preset, connections);
      const perRss = (usage.rss - baseline.rss) / connections / 1024;
      const perHeap = (usage.heapUsed - baseline.heapUsed) / connections / 1024;
      if (usage.agreed !== connections) {
        throw new Error(`${preset}: ${usage.agreed} of ${connections} agreed`);
      }
      console.log(
        `${preset.padEnd(15)} ${
          (usage.rss / 2 ** 20).toFixed(0).padStart(7)
        }   ${perRss.toFixed(1).padStart(8)} KiB          ${
          perHeap.toFixed(1).padStart(6)
        } KiB`,
      );
    }
  }
}
