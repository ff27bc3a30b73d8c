/**
 * One echo server process of the echo benchmark, started by `main.ts` in
 * the runtime the target needs:
 *
 * ```sh
 * deno run -A bench/echo/echo_target.ts ours        # this library, serve()
 * deno run -A bench/echo/echo_target.ts native      # Deno.serve + Deno.upgradeWebSocket
 * deno run -A bench/echo/echo_target.ts deno-node   # this library, serveNodeNet() in Deno
 * deno run -A bench/echo/echo_target.ts minimal     # this library, bare echo
 * deno run -A bench/echo/echo_target.ts corrupt     # flips a byte now and then
 * bun bench/echo/echo_target.ts bun-ours            # this library, serveBun()
 * bun bench/echo/echo_target.ts bun-node            # this library, serveNodeNet() in Bun
 * bun bench/echo/echo_target.ts bun-native          # Bun.serve's WebSocket
 * node bench/echo/echo_target.ts node-ours          # this library, serveNodeNet() in Node
 * node bench/echo/echo_target.ts node-ws            # npm ws (with bufferutil) in Node
 * ```
 *
 * `ours` is the repository's echo server (`startEchoServer` of
 * `examples/echo/server.ts`, logging off; `deno-node` the same on
 * `node:net`). Our servers in Bun and Node run the interop suite's
 * runtime-neutral `echoHandler`, the Deno stand-in the interop suite's
 * `startNativeEchoServer`, so every server follows the same echo
 * conventions; Bun's and ws's echo every message as it came. Each listens
 * on 127.0.0.1 port 0 and prints one JSON line `{"port":N,"impl":"..."}`.
 * The process exits when stdin closes or reads `exit` (so that a CPU
 * profile taken with `--cpu-prof` is written) and after at most an hour;
 * `memory`, `usage`, `types`, `jsc` and `snap` on stdin report its memory
 * (`heap_summary.ts`, `memory_timeline.ts`).
 *
 * @module
 */

import process from "node:process";

/** The most a target process lives, in milliseconds: one hour. */
const MAX_LIFETIME_MS = 3_600_000;

/** Where every server listens. */
const HOSTNAME = "127.0.0.1";

interface Started {
  port: number;
  impl: string;
}

interface EchoServerModule {
  startEchoServer(options: {
    hostname: string;
    port: number;
    log: false;
    transport?: "deno" | "node:net";
  }): Promise<{ addr: { port: number } }>;
}

/** Our echo server of `examples/echo/server.ts` (Deno only). */
async function startOurs(transport: "deno" | "node:net"): Promise<Started> {
  const url = new URL("../../examples/echo/server.ts", import.meta.url);
  const module = await import(url.href) as EchoServerModule;
  const server = await module.startEchoServer({
    hostname: HOSTNAME,
    port: 0,
    log: false,
    transport,
  });
  return {
    port: server.addr.port,
    impl: transport === "deno"
      ? "examples/echo startEchoServer (serve)"
      : "examples/echo startEchoServer on node:net (serveNodeNet)",
  };
}

/** This library's serve + upgradeWebSocket with nothing but an echo. */
async function startMinimalEcho(): Promise<Started> {
  const { serve, upgradeWebSocket } = await import("../../mod.ts");
  const server = serve(
    { hostname: HOSTNAME, port: 0, onListen: () => {} },
    (request) => {
      const { socket, response } = upgradeWebSocket(request);
      socket.binaryType = "arraybuffer";
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    },
  );
  return { port: server.addr.port, impl: "bench/echo minimal echo" };
}

/** The interop suite's native stand-in (Deno.serve). */
async function startNative(): Promise<Started> {
  const { startNativeEchoServer } = await import(
    "../../tests/interop/peers/echo_server.ts"
  );
  const server = await startNativeEchoServer();
  return {
    port: Number(new URL(server.url).port),
    impl: "Deno.serve + Deno.upgradeWebSocket (interop stand-in)",
  };
}

/** A broken echo, to see the benchmark's checks fire: every 100th
 * message comes back with its last byte flipped. */
function startCorruptEcho(): Started {
  let count = 0;
  const server = Deno.serve(
    { hostname: HOSTNAME, port: 0, onListen: () => {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.binaryType = "arraybuffer";
      socket.onerror = () => {};
      socket.onmessage = (event) => {
        const data = new Uint8Array(event.data as ArrayBuffer);
        if (++count % 100 === 0) data[data.length - 1] ^= 1;
        socket.send(data);
      };
      return response;
    },
  );
  return { port: server.addr.port, impl: "corrupting echo (self-check)" };
}

/** Our server on `node:net` in Bun or Node, with the interop echo handler. */
async function startOursOnNodeNet(runtime: string): Promise<Started> {
  const { serveNodeNet } = await import("../../node.ts");
  const { echoHandler } = await import(
    "../../tests/interop/peers/echo_handler.ts"
  );
  const server = await serveNodeNet(
    { hostname: HOSTNAME, port: 0, onListen() {} },
    echoHandler,
  );
  return {
    port: server.addr.port,
    impl: `serveNodeNet + interop echoHandler in ${runtime}`,
  };
}

/** Our server on Bun's own TCP, with the interop echo handler. */
async function startOursOnBun(): Promise<Started> {
  const { serveBun } = await import("../../bun.ts");
  const { echoHandler } = await import(
    "../../tests/interop/peers/echo_handler.ts"
  );
  const server = serveBun(
    { hostname: HOSTNAME, port: 0, onListen() {} },
    echoHandler,
  );
  return { port: server.addr.port, impl: "serveBun + interop echoHandler" };
}

/** The part of Bun's API the native target uses. */
interface BunServeRuntime {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: { upgrade(request: Request): boolean }):
      | Response
      | undefined;
    websocket: {
      message(
        socket: { send(data: string | Uint8Array): number },
        message: string | Uint8Array,
      ): void;
    };
  }): { port: number };
}

/** Bun's own WebSocket server (uWebSockets): every message echoed. */
function startBunNative(): Started {
  const bun = (globalThis as { Bun?: BunServeRuntime }).Bun;
  if (bun === undefined) throw new Error("bun-native runs under Bun");
  const server = bun.serve({
    hostname: HOSTNAME,
    port: 0,
    fetch(request, server) {
      if (server.upgrade(request)) return undefined;
      return new Response("upgrade expected", { status: 400 });
    },
    websocket: {
      message(socket, message) {
        socket.send(message);
      },
    },
  });
  return { port: server.port, impl: "Bun.serve websocket (uWebSockets)" };
}

/** The part of npm ws the ws target uses. */
interface WsModule {
  WebSocketServer: new (
    options: { host: string; port: number },
    onListening: () => void,
  ) => {
    address(): { port: number };
    on(
      event: "connection",
      listener: (socket: {
        on(
          event: "message",
          listener: (data: Uint8Array, isBinary: boolean) => void,
        ): void;
        on(event: "error", listener: () => void): void;
        send(data: Uint8Array, options: { binary: boolean }): void;
      }) => void,
    ): void;
  };
}

/** npm ws's server in Node (it loads bufferutil when installed). */
async function startWs(): Promise<Started> {
  const ws = await import("ws") as unknown as WsModule & { default?: WsModule };
  const WebSocketServer = ws.WebSocketServer ?? ws.default!.WebSocketServer;
  let bufferutil = "without bufferutil";
  try {
    await import("bufferutil");
    bufferutil = "with bufferutil";
  } catch {
    // Not installed: ws masks in JavaScript.
  }
  const { promise, resolve } = Promise.withResolvers<void>();
  const server = new WebSocketServer({ host: HOSTNAME, port: 0 }, resolve);
  server.on("connection", (socket) => {
    socket.on("error", () => {});
    socket.on("message", (data, isBinary) => {
      socket.send(data, { binary: isBinary });
    });
  });
  await promise;
  return { port: server.address().port, impl: `npm ws ${bufferutil}` };
}

const TARGETS: Record<string, () => Started | Promise<Started>> = {
  ours: () => startOurs("deno"),
  "deno-node": () => startOurs("node:net"),
  native: startNative,
  minimal: startMinimalEcho,
  corrupt: startCorruptEcho,
  "bun-ours": startOursOnBun,
  "bun-node": () => startOursOnNodeNet("Bun"),
  "bun-native": startBunNative,
  "node-ours": () => startOursOnNodeNet("Node"),
  "node-ws": startWs,
};

/** The collector: Bun's, or V8's when started with `--expose-gc`. */
function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) bun.gc(true);
  else (globalThis as { gc?: () => void }).gc?.();
}

/**
 * A command from stdin: `exit`; `memory` prints the process's memory (JSON,
 * bytes) after a collection, `usage` the same without one (memory while
 * busy, garbage included); `types` (Bun) prints JSC's live objects by
 * type after a collection; `jsc` (Bun) JSC's heap size and the
 * `ArrayBuffer` memory it counts toward its next collection (no
 * collection); `snap` writes a heap snapshot to the path in
 * `ECHO_SNAPSHOT` and prints `{"snapshot":PATH}` (`heap_summary.ts`).
 */
async function obey(command: string): Promise<void> {
  if (command === "exit") process.exit(0);
  if (command === "memory" || command === "usage") {
    if (command === "memory") collectGarbage();
    const { rss, heapUsed, heapTotal, external, arrayBuffers } = process
      .memoryUsage();
    process.stdout.write(
      JSON.stringify({ rss, heapUsed, heapTotal, external, arrayBuffers }) +
        "\n",
    );
  } else if (command === "jsc") {
    const jsc = await import("bun:jsc" as string) as {
      heapStats(): { heapSize: number; extraMemorySize: number };
    };
    const { heapSize, extraMemorySize } = jsc.heapStats();
    process.stdout.write(JSON.stringify({ heapSize, extraMemorySize }) + "\n");
  } else if (command === "types") {
    const jsc = await import("bun:jsc" as string) as {
      heapStats(): { objectTypeCounts: Record<string, number> };
    };
    process.stdout.write(
      JSON.stringify(jsc.heapStats().objectTypeCounts) + "\n",
    );
  } else if (command === "snap") {
    collectGarbage();
    const v8 = await import("node:v8");
    const path = v8.writeHeapSnapshot(process.env.ECHO_SNAPSHOT);
    process.stdout.write(JSON.stringify({ snapshot: path }) + "\n");
  }
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? "";
  const start = TARGETS[name];
  if (start === undefined) {
    console.error(
      `usage: echo_target.ts ${Object.keys(TARGETS).join("|")}`,
    );
    process.exit(2);
  }
  const lifetime = setTimeout(() => process.exit(3), MAX_LIFETIME_MS);
  (lifetime as unknown as { unref?: () => void }).unref?.();
  const started = await start();
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    for (const command of chunk.split("\n")) void obey(command.trim());
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdout.write(JSON.stringify(started) + "\n");
}

await main();
