/**
 * One chat server process for the cluster tests, on 127.0.0.1 and a free
 * port, sharing Redis with the others: `deno run -A cluster_process.ts
 * '{"redisUrl":...,"presenceTtl":...}'`. Prints `PORT <n>` once listening,
 * then its log lines; SIGTERM shuts it down gracefully (exit 0).
 *
 * @module
 */

import { startChatServer } from "../../../examples/chat/server.ts";

const config = JSON.parse(Deno.args[0]) as {
  redisUrl: string;
  presenceTtl?: number;
  historySize?: number;
};
const server = await startChatServer({
  hostname: "127.0.0.1",
  port: 0,
  redisUrl: config.redisUrl,
  presenceTtl: config.presenceTtl,
  historySize: config.historySize,
  log: (line) => console.log(line),
});
console.log(`PORT ${server.addr.port}`);
Deno.addSignalListener("SIGTERM", () => void server.shutdown());
await server.finished;
await server.shutdown();
Deno.exit(0);
