/**
 * What the known CVE inputs of other WebSocket servers cost this library's
 * server (tests/support/cve_inputs.ts; the tests check the answers): wall
 * time from the first byte sent to the answer, over loopback, median of 5
 * runs, and the growth of this process's RSS and heap (client and server
 * share the process, so these are upper bounds). The trickled cases' time is
 * mostly their own pacing.
 *
 *   deno run -A bench/security_cases.ts
 *
 * @module
 */

import {
  CVE_CASES,
  emptyFragmentFlood,
  upgradeRequest,
} from "../tests/support/cve_inputs.ts";
import { startCveEchoServer } from "../tests/support/cve_server_deno.ts";
import { DEFAULTS } from "../defaults.ts";

const RUNS = 5;
const latin1 = (text: string) =>
  Uint8Array.from(text, (char) => char.charCodeAt(0));

const server = startCveEchoServer();

/** Sends `bytes` in `chunkSize` writes; resolves with the ms until the
 * server's answer holds `until` bytes. */
async function timeOne(
  prefix: Uint8Array | null,
  bytes: Uint8Array,
  chunkSize: number,
  until: (received: number, text: string) => boolean,
): Promise<number> {
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  const buffer = new Uint8Array(64 * 1024);
  try {
    if (prefix !== null) {
      await conn.write(prefix);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const count = await conn.read(buffer);
        if (count === null) break;
        head += String.fromCharCode(...buffer.subarray(0, count));
      }
    }
    const start = performance.now();
    const writing = (async () => {
      try {
        for (let offset = 0; offset < bytes.length; offset += chunkSize) {
          let piece = bytes.subarray(offset, offset + chunkSize);
          while (piece.length > 0) {
            piece = piece.subarray(await conn.write(piece));
          }
        }
      } catch {
        // answered and closed
      }
    })();
    let text = "";
    let received = 0;
    try {
      while (!until(received, text)) {
        const count = await conn.read(buffer);
        if (count === null) break;
        received += count;
        if (text.length < 256) {
          text += String.fromCharCode(...buffer.subarray(0, count));
        }
      }
    } catch {
      // reset after the answer
    }
    const elapsed = performance.now() - start;
    await writing;
    return elapsed;
  } finally {
    conn.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const MiB = 1024 * 1024;
const rows: string[][] = [];
// Inputs are built before anything is measured.
const upgrade = latin1(upgradeRequest());
const flood = emptyFragmentFlood(DEFAULTS.socket.maxFragments + 10);
const cases = [
  ...CVE_CASES.map((cve) => {
    const bytes = latin1(cve.input);
    return {
      name: cve.name,
      run: () =>
        timeOne(
          null,
          bytes,
          cve.chunkSize,
          (_, text) => text.includes("\r\n\r\n"),
        ),
    };
  }),
  {
    name: `empty-fragment flood (${DEFAULTS.socket.maxFragments + 10} frames)`,
    run: () => timeOne(upgrade, flood, 64 * 1024, (received) => received >= 4),
  },
];
for (const { name, run } of cases) {
  const before = Deno.memoryUsage();
  const times: number[] = [];
  for (let index = 0; index < RUNS; index++) times.push(await run());
  const after = Deno.memoryUsage();
  rows.push([
    name,
    median(times).toFixed(1),
    ((after.rss - before.rss) / MiB).toFixed(1),
    ((after.heapUsed - before.heapUsed) / MiB).toFixed(1),
  ]);
}
await server.shutdown();

console.log(
  "| input | ms to the answer (median of 5) | RSS growth MiB | heap growth MiB |",
);
console.log("| --- | ---: | ---: | ---: |");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
