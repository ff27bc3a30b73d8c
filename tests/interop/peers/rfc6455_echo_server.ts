/**
 * This library's echo server (`echo_handler.ts`), hosted two ways for the
 * interop suite: by `serve()` in this Deno process, and by `serveNodeNet()`
 * in a Node 24 subprocess (`node_echo_server.ts`).
 *
 * @module
 */

import { serve } from "../../../mod.ts";
import type {
  EchoServerUnderTest,
  RunningEchoServer,
  ServerFeature,
} from "./echo_server.ts";
import { echoHandler } from "./echo_handler.ts";
import { startProcessServer, withDeadline } from "./bounded.ts";

/**
 * Starts this library's server following the echo conventions.
 *
 * @returns the running server
 */
export function startRfc6455EchoServer(): Promise<RunningEchoServer> {
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    echoHandler,
  );
  return Promise.resolve({
    url: `ws://127.0.0.1:${server.addr.port}`,
    close: () => withDeadline(server.shutdown(), 15_000, "server shutdown"),
  });
}

/** This library's server: the one the interop suite is for. */
export const rfc6455EchoServer: EchoServerUnderTest = {
  name: "rfc6455 server",
  features: new Set<ServerFeature>(["server-ping"]),
  knownFailures: new Map(),
  start: startRfc6455EchoServer,
};

/**
 * The Node 24 to run `node_echo_server.ts` with: `RFC6455_NODE24` (set by
 * .ci/run), else `node` on PATH when it is version 24 or later; null when
 * there is none.
 *
 * @returns the program, or null
 */
export async function findNode24(): Promise<string | null> {
  const candidates = [Deno.env.get("RFC6455_NODE24"), "node"];
  for (const program of candidates) {
    if (program === undefined || program === "") continue;
    try {
      const { code, stdout } = await new Deno.Command(program, {
        args: ["--version"],
        stdout: "piped",
        stderr: "null",
      }).output();
      const major = Number(
        /^v(\d+)/.exec(new TextDecoder().decode(stdout))?.[1],
      );
      if (code === 0 && major >= 24) return program;
    } catch {
      // Not installed.
    }
  }
  return null;
}

const HOSTED_ECHO_SERVER = new URL("./hosted_echo_server.ts", import.meta.url)
  .pathname;

/**
 * Starts the echo server in a subprocess (`hosted_echo_server.ts`): Node 24
 * with `serveNodeNet()`, or Bun with `serveBun()`. It prints its port and
 * serves until its stdin closes.
 *
 * @param program the Node 24 or Bun executable
 * @param host "node-net" or "bun"
 * @returns the running server
 */
export function startHostedEchoServer(
  program: string,
  host: "node-net" | "bun",
): Promise<RunningEchoServer> {
  return startProcessServer(
    program,
    [HOSTED_ECHO_SERVER, host],
    `the ${host} echo server`,
    20_000,
    15_000,
  );
}
