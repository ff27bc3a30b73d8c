/**
 * JS heap allocated per echo by a server socket, without any network: a
 * socket from `createPendingSocket` over a fake `ByteConn` echoes masked
 * binary messages, one at a time, and the heap's growth is read across
 * 50,000 echoes with a semi-space large enough that no collection runs in
 * between. `--profile` adds V8's sampling heap profiler (objects collected
 * by scavenges included) and prints the bytes per echo by function.
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc,--min-semi-space-size=256,--max-semi-space-size=256 bench/echo/alloc_per_echo.ts
 * deno run -A --v8-flags=--expose-gc bench/echo/alloc_per_echo.ts --profile
 * deno run -A --v8-flags=--expose-gc,--min-semi-space-size=256,--max-semi-space-size=256 bench/echo/alloc_per_echo.ts --dir=/path/to/other/checkout --size=1024
 * ```
 *
 * The figure includes the harness's own promises (about 700 B per echo in
 * the profile), the same for every checkout. It holds for small messages
 * only: from about 1 KiB the messages' `ArrayBuffer`s (memory outside the
 * heap) make V8 collect during the run, and the difference means nothing
 * (use `--profile` there).
 *
 * @module
 */

import { Session } from "node:inspector";

/** Echoes measured. */
const ECHOES = 50_000;
/** Echoes before measuring, so the code is optimized. */
const WARMUP_ECHOES = 20_000;

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  const arg = Deno.args.find((value) => value.startsWith(prefix));
  return arg?.slice(prefix.length);
}

const dir = flag("dir") ?? new URL("../..", import.meta.url).pathname;
const size = Number(flag("size") ?? 16);
const profile = Deno.args.includes("--profile");

const { createPendingSocket, attachConnection } = await import(
  `${dir}/socket/websocket.ts`
);
const { encodeFrame } = await import(`${dir}/frame/encoder.ts`);
const { markPoolSafe } = await import(`${dir}/socket/transport.ts`);

const frame: Uint8Array = encodeFrame(2, new Uint8Array(size), {
  mask: new Uint8Array([1, 2, 3, 4]),
});
let pendingRead: ((count: number) => void) | null = null;
let readBuffer: Uint8Array | null = null;
let onWrite: (() => void) | null = null;
const conn = {
  read(buffer: Uint8Array): Promise<number | null> {
    readBuffer = buffer;
    return new Promise((resolve) => pendingRead = resolve);
  },
  write(data: Uint8Array): Promise<number> {
    onWrite?.();
    return Promise.resolve(data.length);
  },
  close(): void {},
  closeWrite(): Promise<void> {
    return Promise.resolve();
  },
};
markPoolSafe(conn);
const socket = createPendingSocket("server", {});
socket.binaryType = "arraybuffer";
socket.onmessage = (event: MessageEvent) => socket.send(event.data);
attachConnection(socket, conn, new Uint8Array(0), {
  protocol: "",
  extensions: "",
});

async function echoOnce(): Promise<void> {
  const written = new Promise<void>((resolve) => onWrite = resolve);
  // In as many reads as the socket's read buffer needs.
  for (let offset = 0; offset < frame.length;) {
    while (pendingRead === null) await Promise.resolve();
    const deliver = pendingRead;
    pendingRead = null;
    const count = Math.min(readBuffer!.length, frame.length - offset);
    readBuffer!.set(frame.subarray(offset, offset + count));
    offset += count;
    deliver(count);
  }
  await written;
}

function post<T>(session: Session, method: string, params = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params, (error: Error | null, result: unknown) => {
      if (error) reject(error);
      else resolve(result as T);
    });
  });
}

for (let echo = 0; echo < WARMUP_ECHOES; echo++) await echoOnce();
(globalThis as { gc?: () => void }).gc?.();
const session = new Session();
session.connect();
if (profile) {
  await post(session, "HeapProfiler.startSampling", {
    samplingInterval: 64,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}
const before = Deno.memoryUsage().heapUsed;
for (let echo = 0; echo < ECHOES; echo++) await echoOnce();
const after = Deno.memoryUsage().heapUsed;
if (profile) {
  const { profile: sampled } = await post<{ profile: { head: ProfileNode } }>(
    session,
    "HeapProfiler.stopSampling",
  );
  const byFunction = new Map<string, number>();
  // A builtin (no URL: subarray, slice, push) is named with its caller.
  const visit = (node: ProfileNode, caller: string): void => {
    const frame = node.callFrame;
    const name = frame.functionName || "(anonymous)";
    let key: string;
    if (frame.url === "") {
      key = `${name} in ${caller}`;
    } else {
      const where = frame.url.split("/").slice(-2).join("/");
      key = `${name} ${where}:${frame.lineNumber + 1}`;
    }
    byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
    for (const child of node.children) visit(child, key);
  };
  visit(sampled.head, "(root)");
  let total = 0;
  for (const bytes of byFunction.values()) total += bytes;
  console.log(`${(total / ECHOES).toFixed(0).padStart(6)} B  sampled in all`);
  const sorted = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 25);
  for (const [key, bytes] of sorted) {
    console.log(`${(bytes / ECHOES).toFixed(0).padStart(6)} B  ${key}`);
  }
} else {
  console.log(
    `${dir}: ${size} B messages, ${
      ((after - before) / ECHOES).toFixed(0)
    } B of JS heap allocated per echo`,
  );
}
Deno.exit(0);
