// A program written for Deno.serve + Deno.upgradeWebSocket, with only the
// import changed: `deno check` (deno task check) type-checks it against the
// DOM's WebSocket types. Never run.

import { serve, upgradeWebSocket } from "../../mod.ts";

const clients = new Set<WebSocket>();

function broadcast(data: string): void {
  for (const client of clients) {
    if (client.readyState === WebSocket.OPEN) client.send(data);
  }
}

function track(socket: WebSocket): void {
  clients.add(socket);
  socket.addEventListener("close", () => clients.delete(socket));
}

export const server = serve({ port: 0 }, (request) => {
  if (request.headers.get("upgrade") !== "websocket") {
    return new Response(null, { status: 501 });
  }
  const { socket, response } = upgradeWebSocket(request, { idleTimeout: 60 });
  socket.addEventListener("open", () => track(socket));
  socket.onmessage = (event: MessageEvent) => {
    const message = JSON.parse(event.data as string) as { text: string };
    broadcast(JSON.stringify({ echo: message.text }));
  };
  socket.onclose = (event: CloseEvent) => {
    console.log(event.code, event.reason);
  };
  socket.onerror = (event: Event) => console.error(event);
  const asDom: WebSocket = socket;
  asDom.binaryType = "arraybuffer";
  return response;
});
