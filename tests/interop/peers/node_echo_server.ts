/**
 * Run by Node 24 (`node node_echo_server.ts`): `serveNodeNet()` with the
 * echo handler on 127.0.0.1, any free port. Prints the port on a line of
 * its own, serves until its stdin closes, then shuts down.
 *
 * @module
 */

import process from "node:process";
import { serveNodeNet } from "../../../node.ts";
import { echoHandler } from "./echo_handler.ts";

const server = await serveNodeNet(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  echoHandler,
);
process.stdout.write(`${server.addr.port}\n`);
process.stdin.resume();
process.stdin.on("end", () => void server.shutdown());
await server.finished;
