/**
 * What "message" events carry besides `data`: the `origin` the WHATWG
 * WebSocket standard asks for.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  attachConnection,
  createPendingSocket,
} from "../../../socket/websocket.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { FakeConn, text } from "../../support/websocket.ts";

/** Attaches a socket over a fake connection and returns its first message. */
async function firstMessage(
  role: "client" | "server",
  url: string | undefined,
): Promise<MessageEvent> {
  const socket = createPendingSocket(role, { pingInterval: 0 });
  const conn = new FakeConn();
  const message = new Promise<MessageEvent>((resolve) => {
    socket.onmessage = resolve;
  });
  void attachConnection(socket, conn, new Uint8Array(0), {
    protocol: "",
    extensions: "",
    url,
  });
  conn.push(
    role === "server"
      ? text("hi")
      : encodeFrame(Opcode.Text, new TextEncoder().encode("hi")),
  );
  const event = await message;
  socket.close();
  conn.end();
  return event;
}

describe("message events", () => {
  test("a client socket's events carry the origin of its URL", async () => {
    const event = await firstMessage("client", "ws://127.0.0.1:8080/chat?x=1");
    assert.equal(event.data, "hi");
    assert.equal(event.origin, "ws://127.0.0.1:8080");
  });

  test("a secure URL on the default port serializes without the port", async () => {
    const event = await firstMessage("client", "wss://example.test:443/");
    assert.equal(event.origin, "wss://example.test");
  });

  test("a server-side socket has no URL, so the origin is empty", async () => {
    const event = await firstMessage("server", undefined);
    assert.equal(event.data, "hi");
    assert.equal(event.origin, "");
  });
});
