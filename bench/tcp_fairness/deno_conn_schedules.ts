/**
 * The plain TCP echo of `deno_conn_echo.ts` on `Deno.Conn`, with the next
 * read issued in one of several ways, to see which keeps thousands of busy
 * connections served (`main.ts --stacks=...` runs them):
 *
 * - `plain`: read, write the echo, read again (as `deno_conn_echo.ts`);
 * - `read-first`: the next read is issued before the echo is written;
 * - `next-turn`: the next read waits for a timer turn (`setTimeout(0)`);
 * - `paced`: a connection reads at most once per 20 ms;
 * - `drain`: `deno/fair_reads.ts`, the schedule `serve()` uses.
 *
 * ```sh
 * deno run -A bench/tcp_fairness/deno_conn_schedules.ts PORT SCHEDULE
 * ```
 *
 * @module
 */

import { FairConn } from "../../deno/fair_reads.ts";

/** How one connection's reads and echoes go. */
type Echo = (conn: Deno.Conn) => Promise<void>;

/** The most often a `paced` connection reads: every 20 ms. */
const PACE_MS = 20;

const delay = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

const SCHEDULES: Record<string, Echo> = {
  async plain(conn) {
    const buffer = new Uint8Array(4096);
    for (;;) {
      const count = await conn.read(buffer);
      if (count === null) return;
      await conn.write(buffer.subarray(0, count));
    }
  },
  async "read-first"(conn) {
    let buffer = new Uint8Array(4096);
    let spare = new Uint8Array(4096);
    let reading = conn.read(buffer);
    for (;;) {
      const count = await reading;
      if (count === null) return;
      const echo = buffer.subarray(0, count);
      [buffer, spare] = [spare, buffer];
      reading = conn.read(buffer);
      await conn.write(echo);
    }
  },
  async "next-turn"(conn) {
    const buffer = new Uint8Array(4096);
    for (;;) {
      const count = await conn.read(buffer);
      if (count === null) return;
      await conn.write(buffer.subarray(0, count));
      await delay(0);
    }
  },
  async paced(conn) {
    const buffer = new Uint8Array(4096);
    let last = 0;
    for (;;) {
      const wait = last + PACE_MS - performance.now();
      if (wait > 0) await delay(wait);
      const count = await conn.read(buffer);
      last = performance.now();
      if (count === null) return;
      await conn.write(buffer.subarray(0, count));
    }
  },
  async drain(conn) {
    const fair = new FairConn(conn);
    const buffer = new Uint8Array(4096);
    for (;;) {
      const count = await fair.read(buffer);
      if (count === null) return;
      await fair.write(buffer.subarray(0, count));
    }
  },
};

const echo = SCHEDULES[Deno.args[1]];
if (echo === undefined) {
  console.error(
    `usage: deno_conn_schedules.ts PORT ${Object.keys(SCHEDULES).join("|")}`,
  );
  Deno.exit(2);
}
const listener = Deno.listen({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0]),
});
console.log("listening");
for await (const conn of listener) {
  echo(conn).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  });
}
