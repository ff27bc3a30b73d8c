/**
 * A typical program written for `Deno.serve` + `Deno.upgradeWebSocket`: a
 * JSON chat that broadcasts to a `Set<WebSocket>`, echoes, sends a burst of
 * three 10 MiB messages on request, and uses `idleTimeout: 60` as Deno
 * means it. `tests/integration/migration_deno_test.ts` runs it with Deno's
 * functions and with this library's, the only change a migration makes.
 *
 * @module
 */

/** What the program needs of `serve`, as `Deno.serve` declares it. */
export type ServeFunction = (
  options: { port: number; hostname: string; onListen: () => void },
  handler: (request: Request) => Response | Promise<Response>,
) => { addr: { port: number }; shutdown(): Promise<void> };

/** What the program needs of `upgradeWebSocket`. */
export type UpgradeFunction = (
  request: Request,
  options?: { idleTimeout?: number },
) => { socket: WebSocket; response: Response };

/**
 * Starts the program on 127.0.0.1, any free port.
 *
 * @param serve `Deno.serve` or this library's `serve`
 * @param upgradeWebSocket the matching `upgradeWebSocket`
 * @returns the running server
 */
export function startChatProgram(
  serve: ServeFunction,
  upgradeWebSocket: UpgradeFunction,
): { addr: { port: number }; shutdown(): Promise<void> } {
  const clients = new Set<WebSocket>();
  return serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    if (request.headers.get("upgrade") !== "websocket") {
      return new Response("not a WebSocket request", { status: 426 });
    }
    const { socket, response } = upgradeWebSocket(request, {
      idleTimeout: 60,
    });
    socket.onopen = () => clients.add(socket);
    socket.onclose = () => clients.delete(socket);
    socket.onmessage = (event: MessageEvent) => {
      const message = JSON.parse(event.data as string) as {
        type: string;
        text?: string;
      };
      if (message.type === "say") {
        const said = JSON.stringify({ type: "said", text: message.text });
        for (const client of clients) client.send(said);
      } else if (message.type === "echo") {
        socket.send(event.data);
      } else if (message.type === "burst") {
        for (let index = 1; index <= 3; index++) {
          socket.send(new Uint8Array(10 << 20).fill(index));
        }
      }
    };
    return response;
  });
}
