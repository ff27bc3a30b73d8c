// Deno only: connect() with permessage-deflate against servers nobody here
// wrote, each with compression on and context takeover: the npm `ws`
// server (its defaults, under Deno's Node compatibility), Bun's server
// (Bun.serve with dedicated compressors: its default shared ones agree no
// context takeover and decline a server_max_window_bits offer) and Python's
// `websockets` server (its defaults: 12-bit windows at most), both
// in subprocesses bounded in time. For each window size 9 to 15 the client
// asks for that window both ways, sends a stream of chat messages and
// messages that repeat at distances up to 20 KiB, and every echo must come
// back in order; the peer's answer is reported and must name the window it
// compresses with, the one asked or less.
//
// Bun and Python are skipped on a developer's machine without them and
// required in CI (CI=true).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketServer } from "ws";
import { connect } from "../../mod.ts";
import { perMessageDeflate } from "../../deflate.ts";
import {
  type ProcessServer,
  runsSuccessfully,
  skipUnlessAvailable,
  startProcessServer,
  withDeadline,
} from "./peers/bounded.ts";
import { chatMessage, windowMessages } from "./peers/deflate_peer_checks.js";

/** How long a peer server may take to start or to stop. */
const SERVER_DEADLINE_MS = 20_000;
/** How long one window size may take. */
const RUN_DEADLINE_MS = 30_000;
const WINDOW_BITS = [9, 10, 11, 12, 13, 14, 15];

/** The npm ws server: echo, compression with its defaults. */
async function startWsServer(): Promise<ProcessServer> {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    maxPayload: 64 * 1024 * 1024,
    perMessageDeflate: { threshold: 0 },
  });
  server.on("connection", (socket: {
    on(event: "message", f: (data: Uint8Array, binary: boolean) => void): void;
    send(data: Uint8Array, options: { binary: boolean }): void;
  }) => {
    socket.on("message", (data, binary) => socket.send(data, { binary }));
  });
  await withDeadline(
    new Promise<void>((resolve) => server.once("listening", () => resolve())),
    SERVER_DEADLINE_MS,
    "ws server listening",
  );
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      withDeadline(
        new Promise<void>((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(() => resolve());
        }),
        SERVER_DEADLINE_MS,
        "ws server close",
      ),
  };
}

/** Bun's server: echo with perMessageDeflate; prints its port, serves until
 * stdin closes, and exits by itself after 120 seconds. */
const BUN_SERVER = `
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, server) {
    return server.upgrade(request) ? undefined : new Response("no", { status: 400 });
  },
  websocket: {
    perMessageDeflate: { compress: "dedicated", decompress: "dedicated" },
    maxPayloadLength: 64 * 1024 * 1024,
    message(ws, message) { ws.send(message, true); },
  },
});
console.log(server.port);
setTimeout(() => process.exit(0), 120_000).unref();
for await (const _ of Bun.stdin.stream()) {}
server.stop(true);
process.exit(0);
`;

/** Python's websockets server: echo, compression="deflate" (its default). */
const PYTHON_SERVER = `
import asyncio, sys
from websockets.exceptions import ConnectionClosed
from websockets.legacy.server import serve

async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass

async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=64 * 1024 * 1024,
                     ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)

asyncio.run(asyncio.wait_for(main(), 120))
`;

const PYTHON = Deno.env.get("PYTHON") ?? "/usr/bin/python3";
const pythonAvailable = await runsSuccessfully(PYTHON, [
  "-c",
  "import websockets",
]);
const bunAvailable = await runsSuccessfully("bun", ["--version"]);

const PEERS: Array<{
  title: string;
  skip: string | false;
  /** The largest window the peer's server compresses with by default
   * (Python's websockets uses 12 bits unless told otherwise). */
  serverWindowCap: number;
  start(): Promise<ProcessServer>;
}> = [
  {
    title: "the npm ws server",
    skip: false,
    serverWindowCap: 15,
    start: startWsServer,
  },
  {
    title: "Bun's server",
    skip: skipUnlessAvailable(bunAvailable, "bun"),
    serverWindowCap: 15,
    start: () =>
      startProcessServer(
        "bun",
        ["-e", BUN_SERVER],
        "the Bun server",
        SERVER_DEADLINE_MS,
        SERVER_DEADLINE_MS,
      ),
  },
  {
    title: "Python's websockets server",
    skip: skipUnlessAvailable(pythonAvailable, `${PYTHON} with websockets`),
    serverWindowCap: 12,
    start: () =>
      startProcessServer(
        PYTHON,
        ["-c", PYTHON_SERVER],
        "the Python server",
        SERVER_DEADLINE_MS,
        SERVER_DEADLINE_MS,
      ),
  },
];

/** Random bytes: they do not compress. */
function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

function same(sent: unknown, received: unknown): boolean {
  if (typeof sent === "string") return sent === received;
  const bytes = sent as Uint8Array;
  const got = new Uint8Array(received as ArrayBuffer);
  return got.length === bytes.length && got.every((b, i) => b === bytes[i]);
}

/** Sends the messages on one connection; returns what was agreed and
 * whether every echo came back in order. */
async function echoStream(
  url: string,
  bits: number,
): Promise<{ extensions: string; inOrder: boolean; count: number }> {
  const socket = await connect(url, {
    perMessageDeflate: perMessageDeflate({
      preset: "dedicated-256k",
      serverMaxWindowBits: bits,
      clientMaxWindowBits: bits,
      threshold: 0,
    }),
    maxMessageSize: 64 * 1024 * 1024,
  });
  socket.binaryType = "arraybuffer";
  const messages: Array<string | Uint8Array> = [
    ...Array.from({ length: 50 }, (_, i) => chatMessage(i) as string),
    ...(windowMessages({ randomBytes }) as Array<string | Uint8Array>),
  ];
  const received: unknown[] = [];
  const all = Promise.withResolvers<void>();
  socket.onmessage = (event) => {
    received.push(event.data);
    if (received.length === messages.length) all.resolve();
  };
  socket.onclose = () => all.reject(new Error("closed early"));
  for (const message of messages) socket.send(message);
  await all.promise;
  socket.onclose = null;
  const closed = new Promise((resolve) => socket.onclose = resolve);
  socket.close(1000);
  await closed;
  return {
    extensions: socket.extensions,
    count: received.length,
    inOrder: messages.every((message, i) => same(message, received[i])),
  };
}

for (const peer of PEERS) {
  describe(`connect() with permessage-deflate against ${peer.title}`, {
    skip: peer.skip,
  }, () => {
    for (const bits of WINDOW_BITS) {
      test(`context takeover, windows of ${bits} bits asked both ways`, async () => {
        const server = await peer.start();
        try {
          const outcome = await withDeadline(
            echoStream(server.url, bits),
            RUN_DEADLINE_MS,
            `${peer.title}, ${bits} bits`,
          );
          console.log(`agreed: ${outcome.extensions}`);
          assert.equal(outcome.inOrder, true);
          assert.match(outcome.extensions, /^permessage-deflate/);
          assert.doesNotMatch(outcome.extensions, /no_context_takeover/);
          // The peer's window: what we asked for, or less.
          const window = Math.min(bits, peer.serverWindowCap);
          if (window < 15) {
            assert.match(
              outcome.extensions,
              new RegExp(`server_max_window_bits=${window}\\b`),
            );
          }
        } finally {
          await server.close();
        }
      });
    }
  });
}
