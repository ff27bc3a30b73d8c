/**
 * The churn of the echo benchmark (`main.ts --churn=N`): N connections
 * opened and ended against one fresh server process, a bounded number at a
 * time, each ending one of four ways in turn, then the server's memory
 * once it has let go of them:
 *
 * - clean: the handshake, one 16-byte message and its echo, a close
 *   handshake (1000), then the end of TCP;
 * - aborted: the handshake, then a TCP reset;
 * - half frame: the handshake, half of a frame, then the end of TCP;
 * - reset in the handshake: half of the request head, then a TCP reset.
 *
 * Runs in Deno (the load, over `node:net`); the server is any target of
 * `echo_target.ts`, so ours and each runtime's own server are measured
 * alike. The server's RSS (VmRSS) is read after the last connection ended
 * and the server had `settleMs` to finish closing (its close and linger
 * timeouts are shorter), with its peak (VmHWM) beside it.
 *
 * @module
 */

import net from "node:net";
import { Buffer } from "node:buffer";
import {
  type Child,
  delay,
  killAll,
  peakRssMegabytes,
  rssMegabytes,
} from "./processes.ts";
import type { ServerKind } from "./settings.ts";

/** How each connection of the churn ends. */
const ENDINGS = ["clean", "aborted", "half frame", "reset in head"] as const;

/** What one churn run reports. */
export interface ChurnResult {
  /** Connections opened. */
  connections: number;
  /** Connections that did what their ending asked (echo, close frame). */
  completed: number;
  /** Connections that failed before doing it (refused, cut short). */
  failed: number;
  /** The churn's duration, ms. */
  ms: number;
}

const HANDSHAKE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function requestHead(port: number): string {
  return `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${HANDSHAKE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/** A masked client frame (key 1 2 3 4) with `payload`. */
function maskedFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  frame.set([1, 2, 3, 4], 2);
  for (let index = 0; index < payload.length; index++) {
    frame[6 + index] = payload[index] ^ (1 + (index & 3));
  }
  return frame;
}

const MESSAGE = maskedFrame(0x2, new Uint8Array(16).fill(0x2a));
const CLOSE = maskedFrame(0x8, new Uint8Array([0x03, 0xe8]));

/** Ends a socket with a TCP reset where the runtime can, else closes it. */
function reset(socket: net.Socket): void {
  const resettable = socket as net.Socket & { resetAndDestroy?: () => void };
  if (typeof resettable.resetAndDestroy === "function") {
    resettable.resetAndDestroy();
  } else {
    socket.destroy();
  }
}

/** One connection of the churn; resolves true once its ending played out. */
function churnOne(
  port: number,
  ending: typeof ENDINGS[number],
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish(false);
    }, timeoutMs);
    let received = Buffer.alloc(0);
    let upgraded = false;
    let echoed = false;
    socket.on("error", () => finish(false));
    socket.on("close", () => finish(ending !== "clean" || echoed));
    socket.on("connect", () => {
      const head = requestHead(port);
      if (ending === "reset in head") {
        socket.write(head.slice(0, head.length >> 1), () => {
          reset(socket);
          finish(true);
        });
        return;
      }
      socket.write(head);
    });
    socket.on("data", (chunk: Uint8Array) => {
      received = Buffer.concat([received, chunk]);
      if (!upgraded) {
        const end = received.indexOf("\r\n\r\n");
        if (end === -1) return;
        if (!received.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) {
          socket.destroy();
          finish(false);
          return;
        }
        upgraded = true;
        received = received.subarray(end + 4);
        if (ending === "aborted") {
          reset(socket);
          finish(true);
        } else if (ending === "half frame") {
          socket.end(MESSAGE.subarray(0, MESSAGE.length >> 1));
        } else {
          socket.write(MESSAGE);
        }
      }
      if (ending !== "clean") return;
      // The echo (2 + 16 bytes), then the close echo.
      if (!echoed && received.length >= 18) {
        echoed = true;
        received = received.subarray(18);
        socket.write(CLOSE);
      }
      if (echoed && received.length >= 2 && (received[0] & 0x0f) === 0x8) {
        socket.end();
      }
    });
  });
}

/**
 * Opens and ends `connections` connections to 127.0.0.1:`port`,
 * `concurrency` at a time, each ending in turn as listed above.
 *
 * @param port the server's port
 * @param connections how many
 * @param concurrency at most this many at once
 * @returns how many completed
 */
export async function churn(
  port: number,
  connections: number,
  concurrency = 200,
): Promise<ChurnResult> {
  const start = performance.now();
  let next = 0;
  let completed = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < connections) {
      const index = next++;
      const ok = await churnOne(port, ENDINGS[index % ENDINGS.length], 20_000);
      if (ok) completed++;
      else failed++;
    }
  };
  const lanes: Promise<void>[] = [];
  for (let index = 0; index < concurrency; index++) lanes.push(lane());
  await Promise.all(lanes);
  return {
    connections,
    completed,
    failed,
    ms: Math.round(performance.now() - start),
  };
}

/** What one server's memory did through the churn. */
export interface ChurnRun {
  /** The server. */
  server: ServerKind;
  /** Connections that did what their ending asked. */
  completed: number;
  /** Connections that failed before doing it. */
  failed: number;
  /** The churn's duration, ms. */
  ms: number;
  /** RSS before the first connection, MiB. */
  idleRss: number;
  /** RSS once the churn ended and the server settled, MiB. */
  afterRss: number;
  /** Peak RSS through the churn, MiB. */
  peakRss: number;
}

/** A server process started for the churn, and its port. */
export interface StartedServer {
  /** The process. */
  child: Child;
  /** Where it listens on 127.0.0.1. */
  port: number;
}

/** Starts `server`, runs the churn against it, reads its memory. */
async function runChurn(
  server: ServerKind,
  connections: number,
  settleMs: number,
  start: (server: ServerKind) => Promise<StartedServer>,
): Promise<ChurnRun> {
  const started = await start(server);
  try {
    await delay(500);
    const pid = started.child.pid;
    const idleRss = rssMegabytes(pid);
    const result = await churn(started.port, connections);
    await delay(settleMs);
    return {
      server,
      completed: result.completed,
      failed: result.failed,
      ms: result.ms,
      idleRss,
      afterRss: rssMegabytes(pid),
      peakRss: peakRssMegabytes(pid),
    };
  } finally {
    await started.child.stop(10_000);
  }
}

/**
 * Runs the churn against each server in turn (a fresh process each),
 * printing each server's line and then the table.
 *
 * @param servers the servers
 * @param connections connections per server
 * @param settleMs how long a server may finish closing before its RSS is read
 * @param start starts a server process
 * @returns the runs that completed
 */
export async function runChurns(
  servers: readonly ServerKind[],
  connections: number,
  settleMs: number,
  start: (server: ServerKind) => Promise<StartedServer>,
): Promise<ChurnRun[]> {
  console.log(
    `\nchurn: ${connections} connections per server, 200 at ` +
      "a time, ending in turn cleanly (an echo, a close handshake), with a " +
      "TCP reset after the handshake, after half a frame, and in the " +
      `request head; RSS read ${settleMs} ms after the last one.`,
  );
  const runs: ChurnRun[] = [];
  for (const server of servers) {
    try {
      const run = await runChurn(server, connections, settleMs, start);
      runs.push(run);
      console.log(
        `  churn ${server.name}: ${run.completed} completed, ${run.failed} failed in ${run.ms} ms; RSS idle ${
          run.idleRss.toFixed(0)
        } MB, after ${run.afterRss.toFixed(0)} MB, peak ${
          run.peakRss.toFixed(0)
        } MB`,
      );
    } catch (error) {
      await killAll();
      console.log(
        `  churn ${server.name}: failed (${(error as Error).message})`,
      );
    }
  }
  console.log("\n" + formatChurn(runs));
  return runs;
}

/** The churn's table, with each server's after-churn RSS over its
 * baseline's. */
function formatChurn(runs: ChurnRun[]): string {
  const lines = [
    "server      connections  completed  failed    ms  idle RSS  after RSS  peak RSS  x after",
  ];
  for (const run of runs) {
    const base = runs.find((other) =>
      other.server.name === run.server.baseline
    );
    const ratio = base === undefined
      ? ""
      : (run.afterRss / base.afterRss).toFixed(2);
    lines.push(
      [
        run.server.name.padEnd(10),
        String(run.completed + run.failed).padStart(12),
        String(run.completed).padStart(10),
        String(run.failed).padStart(7),
        String(run.ms).padStart(5),
        run.idleRss.toFixed(0).padStart(9),
        run.afterRss.toFixed(0).padStart(10),
        run.peakRss.toFixed(0).padStart(9),
        ratio.padStart(8),
      ].join(" "),
    );
  }
  return lines.join("\n");
}
