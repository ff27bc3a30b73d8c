// Deno only: connect() against WebSocket servers nobody here wrote, each
// following tests/peers/echo_server.ts's conventions: Deno's own server
// (Deno.serve + Deno.upgradeWebSocket), the npm `ws` server running under
// Deno's Node compatibility, and Python's `websockets` server in a
// subprocess (bounded in time, killed when it overruns). The checks are the
// ones this library's server passes in client_deno_test.ts.
//
// Python with `websockets` is skipped on a developer's machine without it
// and required in CI.

import { WebSocketServer } from "ws";
import type { IncomingMessage } from "node:http";
import {
  ECHO_SUBPROTOCOL,
  parseCloseCommand,
  type RunningEchoServer,
  startNativeEchoServer,
} from "./peers/echo_server.ts";
import {
  runsSuccessfully,
  skipUnlessAvailable,
  startProcessServer,
  withDeadline,
} from "./peers/bounded.ts";
import { defineClientChecks } from "../support/client_checks_deno.ts";

/** How long a peer server may take to start or to stop. */
const SERVER_DEADLINE_MS = 20_000;

defineClientChecks(
  "Deno.serve + Deno.upgradeWebSocket",
  startNativeEchoServer,
);

// ------------------------------------------------------------------- ws

/** The part of a `ws` server-side socket used here (ws ships no types). */
interface WsSocket {
  on(
    event: "message",
    listener: (data: Uint8Array, isBinary: boolean) => void,
  ): void;
  send(data: Uint8Array, options: { binary: boolean }): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

/** The npm `ws` server on 127.0.0.1 port 0, echoing by the conventions. */
async function startWsEchoServer(): Promise<RunningEchoServer> {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    maxPayload: 64 * 1024 * 1024,
    perMessageDeflate: false,
    handleProtocols: (offered: Set<string>) =>
      offered.has(ECHO_SUBPROTOCOL) ? ECHO_SUBPROTOCOL : false,
    verifyClient: (
      info: { req: IncomingMessage },
      done: (ok: boolean, status?: number) => void,
    ) => done(info.req.url === "/", 403),
  });
  server.on("connection", (socket: WsSocket) => {
    socket.on("message", (data, isBinary) => {
      if (!isBinary) {
        const command = parseCloseCommand(new TextDecoder().decode(data));
        if (command !== null) return socket.close(command.code, command.reason);
      }
      socket.send(data, { binary: isBinary });
    });
  });
  await withDeadline(
    new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    }),
    SERVER_DEADLINE_MS,
    "ws server listening",
  );
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () => {
      for (const client of server.clients as Set<WsSocket>) {
        client.terminate();
      }
      return withDeadline(
        new Promise<void>((resolve) => server.close(() => resolve())),
        SERVER_DEADLINE_MS,
        "ws server close",
      );
    },
  };
}

defineClientChecks("the npm ws server (Node compat)", startWsEchoServer);

// --------------------------------------------------------------- Python

/** The Python interpreter with `websockets` (Debian's; the pyenv python3 on
 * PATH lacks it). */
const PYTHON = Deno.env.get("PYTHON") ?? "/usr/bin/python3";

const pythonAvailable = await runsSuccessfully(PYTHON, [
  "-c",
  "import websockets",
]);

/** The echo server, for the legacy `websockets.serve` API (websockets 10 and
 * later). It prints its port, serves until stdin closes, and exits by
 * itself after 120 seconds whatever happens. */
const PYTHON_ECHO_SERVER = `
import asyncio, http, sys
from websockets.exceptions import ConnectionClosed
from websockets.legacy.server import serve

async def echo(ws, path=None):
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("close:"):
                code, _, reason = message[len("close:"):].partition(":")
                await ws.close(int(code), reason)
                return
            await ws.send(message)
    except ConnectionClosed:
        pass

async def refuse_other_paths(path, headers):
    if path != "/":
        return http.HTTPStatus.FORBIDDEN, [], b"refused by the test server\\n"
    return None

async def main():
    async with serve(echo, "127.0.0.1", 0, subprotocols=["${ECHO_SUBPROTOCOL}"],
                     max_size=64 * 1024 * 1024, ping_interval=None,
                     compression=None, process_request=refuse_other_paths) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)

asyncio.run(asyncio.wait_for(main(), 120))
`;

function startPythonEchoServer(): Promise<RunningEchoServer> {
  return startProcessServer(
    PYTHON,
    ["-c", PYTHON_ECHO_SERVER],
    "the python server",
    SERVER_DEADLINE_MS,
    SERVER_DEADLINE_MS,
  );
}

defineClientChecks("Python websockets", startPythonEchoServer, {
  ignore: skipUnlessAvailable(pythonAvailable, PYTHON + " with websockets") !==
    false,
});
