// The server the scale and slowloris runs measure, in a process of its own
// so that its RSS is the server's alone: this library's serve() with an
// echo handler, plus GET /stats for its memory (after a full GC when run
// with --v8-flags=--expose-gc). Prints one JSON line {"port": N} once
// listening; SIGTERM or SIGINT shuts it down gracefully and it exits 0.
//
//   deno run --allow-net --v8-flags=--expose-gc tests/scale/server.ts \
//     [--max-connections N] [--headers-timeout MS] [--hostname H]
import { serve, upgradeWebSocket } from "../../../mod.ts";

/** What GET /stats answers. */
export interface ServerStats {
  /** Resident set size, bytes. */
  rss: number;
  /** V8 heap in use, bytes. */
  heapUsed: number;
  /** Memory outside the V8 heap that V8 tracks (ArrayBuffers), bytes. */
  external: number;
  /** WebSockets open now. */
  openSockets: number;
}

function numberArgument(name: string, fallback: number): number {
  const index = Deno.args.indexOf(name);
  if (index === -1) return fallback;
  const value = Number(Deno.args[index + 1]);
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name}: not a number`);
  }
  return value;
}

function stringArgument(name: string, fallback: string): string {
  const index = Deno.args.indexOf(name);
  return index === -1 ? fallback : Deno.args[index + 1];
}

const collectGarbage = (globalThis as { gc?: () => void }).gc;
let openSockets = 0;

const server = serve({
  port: 0,
  hostname: stringArgument("--hostname", "127.0.0.1"),
  maxConnections: numberArgument("--max-connections", 10_000),
  headersTimeout: numberArgument("--headers-timeout", 10_000),
  onListen(addr) {
    console.log(JSON.stringify({ port: addr.port }));
  },
}, async (request) => {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    // ArrayBuffer memory is freed by a task after the collection that
    // found it unreachable: collect, let it run, collect again.
    collectGarbage?.();
    await new Promise((resolve) => setTimeout(resolve, 0));
    collectGarbage?.();
    const memory = Deno.memoryUsage();
    const stats: ServerStats = {
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
      openSockets,
    };
    return Response.json(stats);
  }
  const { socket, response } = upgradeWebSocket(request);
  socket.onopen = () => openSockets++;
  socket.onclose = () => openSockets--;
  socket.onmessage = (event) => socket.send(event.data);
  return response;
});

const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
const stop = (): void => void server.shutdown();
for (const signal of signals) Deno.addSignalListener(signal, stop);
await server.finished;
for (const signal of signals) Deno.removeSignalListener(signal, stop);
