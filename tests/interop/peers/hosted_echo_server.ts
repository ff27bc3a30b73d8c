/**
 * Run by Node 24 or Bun (`node hosted_echo_server.ts node-net`, `bun
 * hosted_echo_server.ts bun`): this library's server with the echo handler
 * on 127.0.0.1, any free port, on `node:net` (`serveNodeNet`) or Bun's own
 * TCP (`serveBun`). Prints the port on a line of its own, serves until its
 * stdin closes, then shuts down.
 *
 * @module
 */

import process from "node:process";
import { serveNodeNet } from "../../../node.ts";
import { serveBun } from "../../../bun.ts";
import { echoHandler } from "./echo_handler.ts";

const options = { hostname: "127.0.0.1", port: 0, onListen() {} };
const server = process.argv[2] === "bun"
  ? serveBun(options, echoHandler)
  : await serveNodeNet(options, echoHandler);
process.stdout.write(`${server.addr.port}\n`);
process.stdin.resume();
process.stdin.on("end", () => void server.shutdown());
await server.finished;
