/**
 * Is the 10,000-connection round trip limited by WebSocket code or by the
 * runtime's TCP? This runs the same plain TCP echo (no WebSocket at all) on
 * three stacks and loads each with busy connections, one 16-byte message in
 * flight on each:
 *
 * - `deno-conn`: `Deno.listen` + `Deno.Conn.read`/`write` (what our server,
 *   and `Deno.serve`'s native WebSocket, stand on);
 * - `deno-node-net`: `node:net` under the same Deno;
 * - `bun-node-net`: `node:net` under Bun.
 *
 * ```sh
 * deno run -A bench/tcp_fairness/main.ts               # 100, 1000, 9000
 * deno run -A bench/tcp_fairness/main.ts 9000 --measure-ms=8000
 * deno run -A bench/tcp_fairness/main.ts 4000 9000 --stacks=deno-conn,deno-conn-drain
 * ```
 *
 * `--stacks` also takes the `Deno.Conn` echo with its reads issued other
 * ways (`deno_conn_schedules.ts`): `deno-conn-read-first`,
 * `deno-conn-next-turn`, `deno-conn-paced`, `deno-conn-drain` (the
 * schedule of `deno/fair_reads.ts`, which `serve()` uses).
 *
 * "served" counts the connections that got at least one echo in the
 * measured window; a fair server serves all of them. The load client is
 * Bun (`load.mjs`), in its own process.
 *
 * @module
 */

import { Child, killAll } from "../echo/processes.ts";
import { findBun } from "../echo/settings.ts";

const HERE = new URL(".", import.meta.url).pathname;

interface Stack {
  name: string;
  command: (bun: string) => [string, string[]];
}

const STACKS: Stack[] = [
  {
    name: "deno-conn",
    command: () => [Deno.execPath(), ["run", "-A", `${HERE}deno_conn_echo.ts`]],
  },
  {
    name: "deno-node-net",
    command: () => [Deno.execPath(), ["run", "-A", `${HERE}node_net_echo.mjs`]],
  },
  {
    name: "bun-node-net",
    command: (bun) => [bun, [`${HERE}node_net_echo.mjs`]],
  },
];

for (const schedule of ["read-first", "next-turn", "paced", "drain"]) {
  STACKS.push({
    name: `deno-conn-${schedule}`,
    command: () => [Deno.execPath(), [
      "run",
      "-A",
      `${HERE}deno_conn_schedules.ts`,
    ]],
  });
}

/** The schedule argument a `deno-conn-*` stack passes after the port. */
function extraArgs(stack: Stack): string[] {
  return stack.name.startsWith("deno-conn-")
    ? [stack.name.slice("deno-conn-".length)]
    : [];
}

interface LoadResult {
  connections: number;
  served: number;
  echoesPerSecond: number;
  serverMicrosPerEcho: number | null;
}

async function measure(
  stack: Stack,
  bun: string,
  connections: number,
  port: number,
  measureMs: number,
): Promise<LoadResult> {
  const [command, args] = stack.command(bun);
  const server = new Child(stack.name, command, [
    ...args,
    String(port),
    ...extraArgs(stack),
  ]);
  try {
    const ready = await server.nextLine(15_000);
    if (ready !== "listening") throw new Error(`${stack.name}: ${ready}`);
    const load = new Child("load", bun, [
      `${HERE}load.mjs`,
      String(port),
      String(connections),
      String(server.pid),
      String(measureMs),
    ]);
    try {
      return JSON.parse(await load.nextLine(120_000 + measureMs));
    } finally {
      await load.stop(1000);
    }
  } finally {
    await server.stop(1000);
  }
}

function parseArgs(
  args: string[],
): { counts: number[]; measureMs: number; stacks: Stack[] } {
  let measureMs = 4000;
  let names = ["deno-conn", "deno-node-net", "bun-node-net"];
  const counts: number[] = [];
  for (const arg of args) {
    if (arg.startsWith("--measure-ms=")) {
      measureMs = Number(arg.slice("--measure-ms=".length));
    } else if (arg.startsWith("--stacks=")) {
      names = arg.slice("--stacks=".length).split(",");
    } else counts.push(Number(arg));
  }
  const stacks = names.map((name) => {
    const stack = STACKS.find((candidate) => candidate.name === name);
    if (stack === undefined) {
      throw new Error(
        `unknown stack ${name}; known: ${STACKS.map((s) => s.name).join(" ")}`,
      );
    }
    return stack;
  });
  if (counts.some((count) => !Number.isSafeInteger(count) || count < 1)) {
    throw new Error(
      "usage: main.ts [CONNS...] [--measure-ms=N] [--stacks=...]",
    );
  }
  return {
    counts: counts.length > 0 ? counts : [100, 1000, 9000],
    measureMs,
    stacks,
  };
}

const bun = findBun();
if (bun === null) {
  console.error("needs Bun: npm install --prefix /opt/tools bun");
  Deno.exit(2);
}
const { counts, measureMs, stacks } = parseArgs(Deno.args);
console.log(
  "stack          conns  served  echoes/s  server us/echo",
);
let port = 20_000 + Math.floor(Math.random() * 20_000);
try {
  for (const connections of counts) {
    for (const stack of stacks) {
      const result = await measure(stack, bun, connections, port++, measureMs);
      const micros = result.serverMicrosPerEcho?.toFixed(1) ?? "-";
      console.log(
        `${stack.name.padEnd(13)} ${String(connections).padStart(6)} ` +
          `${String(result.served).padStart(7)} ` +
          `${String(result.echoesPerSecond).padStart(9)} ${
            micros.padStart(15)
          }`,
      );
    }
  }
} finally {
  await killAll();
}
