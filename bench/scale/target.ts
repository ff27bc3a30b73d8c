/**
 * One server process of the scale benchmark (`main.ts` starts it, never by
 * hand). The last argument is JSON: `{ mode, port, redisUrl?, historySize? }`.
 *
 * - `echo`: this library's bare echo, `reusePort` on `port`;
 * - `chat`: the chat example (`startChatServer`), on Redis when `redisUrl`
 *   is given, `reusePort` on `port`;
 * - `fanout`: sockets subscribe to topic "fan" on open; the line `publish
 *   N SIZE GAP` on stdin publishes N messages of SIZE bytes to it (each
 *   starts with its send time as a float64, `performance.timeOrigin +
 *   performance.now()`), GAP milliseconds apart (0: as fast as it can,
 *   yielding to the event loop every 16); with `redisUrl` the server has a
 *   `RedisBroker`.
 *
 * Prints `{"port":N}` once listening (and, for `fanout`, `{"subscribers":N}`
 * for the line `count`); exits when stdin closes or reads `exit`.
 *
 * @module
 */

import process from "node:process";
import { serve, type Server, upgradeWebSocket } from "../../mod.ts";
import { RedisBroker } from "../../redis.ts";
import { startChatServer } from "../../examples/chat/server.ts";

interface TargetConfig {
  mode: "echo" | "chat" | "fanout";
  port: number;
  redisUrl?: string;
  historySize?: number;
}

const config = JSON.parse(Deno.args.at(-1)!) as TargetConfig;
let stop: () => Promise<void>;
let fanout: Server | null = null;
let fanoutBroker: RedisBroker | undefined;

if (config.mode === "chat") {
  const chat = await startChatServer({
    hostname: "127.0.0.1",
    port: config.port,
    reusePort: true,
    redisUrl: config.redisUrl,
    historySize: config.historySize,
    log: false,
  });
  stop = () => chat.shutdown();
  console.log(JSON.stringify({ port: chat.addr.port }));
} else {
  const broker = config.redisUrl === undefined
    ? undefined
    : await RedisBroker.connect({ url: config.redisUrl });
  const server = serve(
    {
      hostname: "127.0.0.1",
      port: config.port,
      reusePort: true,
      broker,
      onListen() {},
    },
    (request) => {
      const { socket, response } = upgradeWebSocket(request, {
        maxQueuedBytes: 256 * 1024 * 1024,
      });
      socket.binaryType = "arraybuffer";
      if (config.mode === "echo") {
        socket.onmessage = (event) => socket.send(event.data);
      } else {
        socket.onopen = () => socket.subscribe("fan");
      }
      return response;
    },
  );
  if (config.mode === "fanout") {
    fanout = server;
    fanoutBroker = broker;
  }
  stop = async () => {
    await server.shutdown();
    await broker?.close();
  };
  if (broker !== undefined) await broker.subscribed();
  console.log(JSON.stringify({ port: server.addr.port }));
}

async function publish(
  count: number,
  size: number,
  gap: number,
): Promise<void> {
  const payload = new Uint8Array(size);
  const view = new DataView(payload.buffer);
  for (let index = 0; index < count; index++) {
    view.setFloat64(0, performance.timeOrigin + performance.now());
    fanout!.publish("fan", payload);
    if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
    else if (index % 16 === 15) {
      await new Promise((resolve) => setTimeout(resolve));
    }
  }
}

let buffered = "";
process.stdin.on("data", (chunk: Uint8Array) => {
  buffered += new TextDecoder().decode(chunk);
  let newline = buffered.indexOf("\n");
  while (newline !== -1) {
    const line = buffered.slice(0, newline).trim();
    buffered = buffered.slice(newline + 1);
    newline = buffered.indexOf("\n");
    if (line === "exit") void stop().then(() => Deno.exit(0));
    else if (line === "count") {
      void (fanoutBroker?.subscribed() ?? Promise.resolve()).then(() =>
        console.log(
          JSON.stringify({ subscribers: fanout?.subscriberCount("fan") ?? 0 }),
        )
      );
    } else if (line.startsWith("publish ")) {
      const [, count, size, gap] = line.split(" ");
      void publish(Number(count), Number(size), Number(gap));
    }
  }
});
process.stdin.on("end", () => void stop().then(() => Deno.exit(0)));
