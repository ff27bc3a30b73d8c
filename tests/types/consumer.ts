// A program outside Deno, type-checked by the npm `typescript` compiler
// (tests/interop/typescript_deno_test.ts): it uses the pure entry, the
// socket entry and the node:net entry the way a Node or Bun user would.
// Never run.

import {
  DEFAULTS,
  encodeFrame,
  FrameDecoder,
  Opcode,
  Protocol,
  type ProtocolEvent,
  WebSocketError,
} from "../../codec.ts";
import {
  serveNodeNet,
  type Server,
  upgradeWebSocket,
  type WebSocketConnection,
} from "../../node.ts";
import { type ByteConn, createPendingSocket } from "../../socket.ts";

export function echoOnce(bytes: Uint8Array): Uint8Array[] {
  const protocol = new Protocol({ role: "server" });
  const events: ProtocolEvent[] = protocol.receive(bytes);
  for (const event of events) {
    if (event.type === "text") protocol.sendText(event.data);
    if (event.type === "error" && event.error instanceof WebSocketError) {
      return [];
    }
  }
  return protocol.takeOutgoing();
}

export function firstFrame(text: string): Uint8Array | undefined {
  const decoder = new FrameDecoder({ expectMasked: false });
  decoder.push(encodeFrame(Opcode.Text, new TextEncoder().encode(text)));
  return decoder.next()?.payload;
}

export async function start(): Promise<Server> {
  const sockets = new Set<WebSocketConnection>();
  const domSockets = new Set<WebSocket>();
  return await serveNodeNet({
    port: 0,
    hostname: "127.0.0.1",
    maxConnections: DEFAULTS.server.maxConnections,
  }, (request) => {
    const { socket, response } = upgradeWebSocket(request);
    sockets.add(socket);
    socket.onmessage = (event: MessageEvent) => {
      for (const other of sockets) other.send(event.data);
    };
    socket.onclose = () => sockets.delete(socket);
    domSockets.add(socket); // typed against the DOM's WebSocket
    return response;
  });
}

export function pending(conn: ByteConn): WebSocketConnection {
  const socket = createPendingSocket("client", { pingInterval: 0 });
  void conn;
  return socket;
}
