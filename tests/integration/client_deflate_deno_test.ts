// Deno only: connect() with permessage-deflate against our own server and
// the npm `ws` server (which compresses with zlib, keeping no context as
// our offer asks), checking the agreed extension and round trips of
// compressible and random messages in both directions.

import assert from "node:assert/strict";
import { WebSocketServer } from "ws";
import { connect } from "../../mod.ts";
import { serve, upgradeWebSocket } from "../../mod.ts";
import type { WebSocketConnection } from "../../socket/websocket.ts";
import { HandshakeError } from "../../errors.ts";

/** Resolves with the next "message" event's data. */
function nextMessage(socket: WebSocketConnection): Promise<unknown> {
  return new Promise((resolve, reject) => {
    socket.addEventListener("message", (event) => resolve(event.data), {
      once: true,
    });
    socket.addEventListener("close", () => reject(new Error("closed")), {
      once: true,
    });
  });
}

function closed(socket: WebSocketConnection): Promise<CloseEvent> {
  return new Promise((resolve) =>
    socket.addEventListener("close", (event) => resolve(event as CloseEvent), {
      once: true,
    })
  );
}

async function echoesBothWays(url: string): Promise<string> {
  const socket = await connect(url, {
    perMessageDeflate: { threshold: 0 },
  });
  socket.binaryType = "arraybuffer";
  try {
    const json = JSON.stringify({
      type: "message",
      text: "hello ".repeat(2_000),
    });
    socket.send(json);
    assert.equal(await nextMessage(socket), json);
    const random = crypto.getRandomValues(new Uint8Array(60_000));
    socket.send(random);
    assert.deepEqual(
      new Uint8Array(await nextMessage(socket) as ArrayBuffer),
      random,
    );
    socket.send("");
    assert.equal(await nextMessage(socket), "");
    return socket.extensions;
  } finally {
    const done = closed(socket);
    socket.close(1000);
    await done;
  }
}

Deno.test("connect() with permessage-deflate against our server", async () => {
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { socket, response } = upgradeWebSocket(request, {
        perMessageDeflate: { threshold: 0 },
      });
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    },
  );
  try {
    const extensions = await echoesBothWays(
      `ws://127.0.0.1:${server.addr.port}/`,
    );
    assert.match(extensions, /^permessage-deflate/);
    assert.match(extensions, /server_no_context_takeover/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("connect() with permessage-deflate against the npm ws server", async () => {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: { threshold: 0 },
  });
  wss.on("connection", (ws: {
    on(event: "message", f: (data: Uint8Array, binary: boolean) => void): void;
    send(data: Uint8Array, options: { binary: boolean }): void;
  }) => {
    ws.on("message", (data, binary) => ws.send(data, { binary }));
  });
  await new Promise<void>((resolve) => wss.on("listening", () => resolve()));
  try {
    const { port } = wss.address() as { port: number };
    const extensions = await echoesBothWays(`ws://127.0.0.1:${port}/`);
    assert.match(extensions, /^permessage-deflate/);
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
});

Deno.test("without the option nothing is offered, and a server that answers anyway is refused", async () => {
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const offered = request.headers.get("sec-websocket-extensions");
      const { socket, response } = upgradeWebSocket(request, {
        perMessageDeflate: true,
      });
      socket.onopen = () => socket.send(String(offered));
      return response;
    },
  );
  try {
    const socket = await connect(`ws://127.0.0.1:${server.addr.port}/`);
    assert.equal(await nextMessage(socket), "null");
    assert.equal(socket.extensions, "");
    const done = closed(socket);
    socket.close(1000);
    await done;
  } finally {
    await server.shutdown();
  }

  // A raw server that accepts permessage-deflate that was never offered.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answering = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const count = await conn.read(buffer);
      if (count === null) break;
      head += new TextDecoder().decode(buffer.subarray(0, count));
    }
    const key = /sec-websocket-key: *([^\r\n]+)/i.exec(head)![1];
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    await conn.write(
      new TextEncoder().encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
          "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
      ),
    );
    // Wait for the client to hang up.
    while ((await conn.read(buffer)) !== null) { /* discard */ }
    conn.close();
  })();
  try {
    const { port } = listener.addr as Deno.NetAddr;
    await assert.rejects(
      connect(`ws://127.0.0.1:${port}/`),
      (error: unknown) => error instanceof HandshakeError,
    );
    await answering;
  } finally {
    listener.close();
  }
});
