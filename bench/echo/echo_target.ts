/**
 * One echo server process of the echo benchmark, started by `main.ts`:
 *
 * ```sh
 * deno run -A bench/echo/echo_target.ts ours      # this library
 * deno run -A bench/echo/echo_target.ts native    # Deno.serve + Deno.upgradeWebSocket
 * deno run -A bench/echo/echo_target.ts minimal   # this library, bare echo
 * deno run -A bench/echo/echo_target.ts corrupt   # flips a byte now and then
 * ```
 *
 * `ours` is the repository's echo server (`startEchoServer` of
 * `echo_server.ts`, logging off) when that file exists, else the bare echo
 * of `startMinimalEcho`. `native` is the interop suite's stand-in
 * (`startNativeEchoServer` of `tests/peers/echo_server.ts`), so both follow
 * the same echo conventions. Each listens on
 * 127.0.0.1 port 0 and prints one JSON line `{"port":N,"impl":"..."}`.
 * The process exits when stdin closes or reads `exit` (so a CPU profile
 * taken with `--cpu-prof` is written) and after at most an hour.
 *
 * @module
 */

import process from "node:process";
import { serve, upgradeWebSocket } from "../../mod.ts";
import { startNativeEchoServer } from "../../tests/interop/peers/echo_server.ts";

/** Which server a process runs. */
export type TargetName = "ours" | "native" | "minimal" | "corrupt" | "node";

/** The most a target process lives, in milliseconds: one hour. */
const MAX_LIFETIME_MS = 3_600_000;

interface Started {
  port: number;
  impl: string;
}

/** This library's serve + upgradeWebSocket with nothing but an echo. */
function startMinimalEcho(): Started {
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const { socket, response } = upgradeWebSocket(request);
      socket.binaryType = "arraybuffer";
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    },
  );
  return { port: server.addr.port, impl: "bench/echo minimal echo" };
}

interface EchoServerModule {
  startEchoServer(options: {
    hostname: string;
    port: number;
    log: false;
    transport?: "deno" | "node:net";
  }): Promise<{ addr: Deno.NetAddr }>;
}

async function startOurs(): Promise<Started> {
  const url = new URL("../../examples/echo/server.ts", import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    return startMinimalEcho();
  }
  const module = await import(url.href) as EchoServerModule;
  const server = await module.startEchoServer({
    hostname: "127.0.0.1",
    port: 0,
    log: false,
  });
  return { port: server.addr.port, impl: "echo_server.ts startEchoServer" };
}

/** Our echo server (`echo_server.ts`) on `node:net` sockets
 * (`serveNodeNet`): `--ours=node`. */
async function startOursOnNodeNet(): Promise<Started> {
  const url = new URL("../../examples/echo/server.ts", import.meta.url);
  const module = await import(url.href) as EchoServerModule;
  const server = await module.startEchoServer({
    hostname: "127.0.0.1",
    port: 0,
    log: false,
    transport: "node:net",
  });
  return {
    port: server.addr.port,
    impl: "echo_server.ts startEchoServer on node:net (serveNodeNet)",
  };
}

/** The interop suite's native stand-in (`tests/peers/echo_server.ts`). */
async function startNative(): Promise<Started> {
  const server = await startNativeEchoServer();
  const port = Number(new URL(server.url).port);
  return {
    port,
    impl: "Deno.serve + Deno.upgradeWebSocket (interop stand-in)",
  };
}

/** A broken echo, to see the benchmark's checks fire: every 100th
 * message comes back with its last byte flipped. */
function startCorruptEcho(): Started {
  let count = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
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

async function main(): Promise<void> {
  const name = Deno.args[0] as TargetName;
  const lifetime = setTimeout(() => Deno.exit(3), MAX_LIFETIME_MS);
  Deno.unrefTimer(lifetime);
  const started = name === "native"
    ? await startNative()
    : name === "minimal"
    ? startMinimalEcho()
    : name === "ours"
    ? await startOurs()
    : name === "corrupt"
    ? startCorruptEcho()
    : name === "node"
    ? await startOursOnNodeNet()
    : null;
  if (started === null) {
    console.error(`usage: echo_target.ts ours|native|minimal|corrupt|node`);
    Deno.exit(2);
  }
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    if (chunk.includes("exit")) Deno.exit(0);
  });
  process.stdin.on("end", () => Deno.exit(0));
  console.log(JSON.stringify(started));
}

await main();
