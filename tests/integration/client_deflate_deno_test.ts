// Deno only: connect() with permessage-deflate against our own server, the
// npm `ws` server (zlib with context takeover, its defaults), and raw
// servers that answer the offer with every kind of valid agreement and
// inflate with one zlib stream per connection (pako's zlib port), as the
// conformance suite's server does: every message must be read, within the
// window agreed, and the server's messages under its agreement read back.

import assert from "node:assert/strict";
import { Deflate, Inflate, Z_SYNC_FLUSH } from "pako";
import { WebSocketServer } from "ws";
import { connect } from "../../mod.ts";
import { serve, upgradeWebSocket } from "../../mod.ts";
import { perMessageDeflate } from "../../deflate.ts";
import type { WebSocketConnection } from "../../socket/websocket.ts";
import { HandshakeError } from "../../errors.ts";
import { FrameDecoder } from "../../frame/decoder.ts";
import { encodeFrame } from "../../frame/encoder.ts";
import { Opcode, RSV1 } from "../../frame/types.ts";
import { concat } from "../support/bytes.ts";
import { withDeadline } from "../interop/peers/bounded.ts";

const TAIL = Uint8Array.of(0, 0, 0xff, 0xff);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
    perMessageDeflate: perMessageDeflate({ threshold: 0 }),
  });
  socket.binaryType = "arraybuffer";
  try {
    for (let round = 0; round < 3; round++) {
      const json = JSON.stringify({
        type: "message",
        text: "hello ".repeat(2_000),
        round,
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
    }
    return socket.extensions;
  } finally {
    const done = closed(socket);
    socket.close(1000);
    await done;
  }
}

Deno.test("connect() with permessage-deflate against our server: context takeover both ways", async () => {
  const deflate = perMessageDeflate({ threshold: 0 });
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { socket, response } = upgradeWebSocket(request, {
        perMessageDeflate: deflate,
      });
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    },
  );
  try {
    const extensions = await echoesBothWays(
      `ws://127.0.0.1:${server.addr.port}/`,
    );
    assert.equal(
      extensions,
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("connect() with permessage-deflate against the npm ws server (its defaults: context takeover)", async () => {
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
    assert.doesNotMatch(extensions, /no_context_takeover/);
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
});

/** The `Sec-WebSocket-Accept` value for a key. */
async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** What a raw server saw of the client's messages. */
interface RawServerReport {
  /** The offer the client sent. */
  offer: string;
  /** Messages inflated with one zlib stream, in order. */
  messages: string[];
  /** Compressed payload bytes received. */
  compressedBytes: number;
  /** The first inflate error, if any. */
  problem?: string;
}

/** How the raw server reads the client and compresses its own messages. */
interface RawServerPlan {
  /** The `Sec-WebSocket-Extensions` answer. */
  answer: string;
  /** Messages to read from the client. */
  expect: number;
  /** The client's window as agreed (the server's inflate window). */
  clientWindowBits: number;
  /** Whether the client agreed to keep no context. */
  clientNoContextTakeover: boolean;
  /** The server's window and takeover, for the messages it sends. */
  serverWindowBits: number;
  serverNoContextTakeover: boolean;
  /** Messages the server sends compressed once the client's are read. */
  send: string[];
}

/** pako's zlib inflate as a peer runs it: one stream per connection, or
 * one per message without context takeover. */
class PeerInflater {
  #stream: Inflate | null = null;
  readonly #windowBits: number;
  readonly #perMessage: boolean;

  constructor(windowBits: number, perMessage: boolean) {
    this.#windowBits = windowBits;
    this.#perMessage = perMessage;
  }

  inflate(payload: Uint8Array): string {
    if (this.#stream === null || this.#perMessage) {
      this.#stream = new Inflate({ raw: true, windowBits: this.#windowBits });
    }
    const stream = this.#stream;
    const chunks: Uint8Array[] = [];
    stream.onData = (chunk: Uint8Array) => chunks.push(chunk);
    stream.push(concat(payload, TAIL), Z_SYNC_FLUSH);
    if (stream.err !== 0) throw new Error(`zlib: ${stream.msg}`);
    return decoder.decode(concat(...chunks));
  }
}

/**
 * A server that answers the client's offer with `plan.answer`, reads
 * `plan.expect` messages inflating them as a zlib peer does, sends
 * `plan.send` compressed under the server's agreement, then closes.
 */
function rawDeflateServer(
  plan: RawServerPlan,
): { port: number; report: Promise<RawServerReport> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const report = (async (): Promise<RawServerReport> => {
    const conn = await listener.accept();
    listener.close();
    const buffer = new Uint8Array(64 * 1024);
    let bytes: Uint8Array = new Uint8Array(0);
    let headEnd = -1;
    while (headEnd === -1) {
      const count = await conn.read(buffer);
      if (count === null) throw new Error("the client left");
      bytes = concat(bytes, buffer.subarray(0, count));
      headEnd = decoder.decode(bytes).indexOf("\r\n\r\n");
    }
    const head = decoder.decode(bytes.subarray(0, headEnd));
    const key = /sec-websocket-key: *([^\r\n]+)/i.exec(head)![1];
    const offer = /sec-websocket-extensions: *([^\r\n]+)/i.exec(head)?.[1] ??
      "";
    await conn.write(encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptFor(
          key,
        )}\r\n` +
        `Sec-WebSocket-Extensions: ${plan.answer}\r\n\r\n`,
    ));
    const frames = new FrameDecoder({
      expectMasked: true,
      allowedReservedBits: RSV1,
    });
    frames.push(bytes.slice(headEnd + 4));
    const inflater = new PeerInflater(
      plan.clientWindowBits,
      plan.clientNoContextTakeover,
    );
    const result: RawServerReport = { offer, messages: [], compressedBytes: 0 };
    let message: Uint8Array[] = [];
    let compressed = false;
    while (result.messages.length < plan.expect) {
      const frame = frames.next();
      if (frame === undefined) {
        const count = await conn.read(buffer);
        if (count === null) throw new Error("the client left");
        frames.push(buffer.slice(0, count));
        continue;
      }
      if (frame.opcode >= 0x8) continue;
      if (frame.opcode !== Opcode.Continuation) compressed = frame.rsv1;
      message.push(frame.payload.slice());
      if (!frame.fin) continue;
      const payload = concat(...message);
      message = [];
      if (!compressed) {
        result.messages.push(decoder.decode(payload));
        continue;
      }
      result.compressedBytes += payload.length;
      try {
        result.messages.push(inflater.inflate(payload));
      } catch (error) {
        result.problem ??= String(error);
        result.messages.push("");
      }
    }
    const deflater = new Deflate({
      raw: true,
      windowBits: Math.max(plan.serverWindowBits, 9),
    });
    for (const text of plan.send) {
      const chunks: Uint8Array[] = [];
      deflater.onData = (chunk: Uint8Array) => chunks.push(chunk);
      deflater.push(
        encoder.encode(text),
        plan.serverNoContextTakeover ? 3 /* Z_FULL_FLUSH */ : Z_SYNC_FLUSH,
      );
      const payload = concat(...chunks);
      await conn.write(encodeFrame(
        Opcode.Text,
        payload.subarray(0, payload.length - 4),
        { rsv1: true },
      ));
    }
    await conn.write(encodeFrame(Opcode.Close, Uint8Array.of(0x03, 0xe8)));
    // The client's close frame, then the server closes TCP first.
    for (;;) {
      const frame = frames.next();
      if (frame?.opcode === Opcode.Close) break;
      if (frame !== undefined) continue;
      const count = await conn.read(buffer);
      if (count === null) break;
      frames.push(buffer.slice(0, count));
    }
    conn.close();
    return result;
  })();
  return { port: (listener.addr as Deno.NetAddr).port, report };
}

/** 1 KiB JSON documents that differ a little from one to the next. */
function documents(count: number): string[] {
  const list: string[] = [];
  for (let i = 0; i < count; i++) {
    const items = [];
    for (let j = 0; items.join().length < 1000; j++) {
      items.push({ id: i * 100 + j, name: `item ${j}`, on: (i + j) % 3 === 0 });
    }
    list.push(JSON.stringify(items).slice(0, 1024));
  }
  return list;
}

/** Connects, sends `messages`, reads what the server sends, closes. */
async function clientRun(
  port: number,
  messages: readonly string[],
  replies: number,
  deflate = perMessageDeflate(),
): Promise<{ extensions: string; received: unknown[] }> {
  const socket = await connect(`ws://127.0.0.1:${port}/`, {
    perMessageDeflate: deflate,
  });
  const received: unknown[] = [];
  const gotAll = Promise.withResolvers<void>();
  socket.addEventListener("message", (event) => {
    received.push(event.data);
    if (received.length === replies) gotAll.resolve();
  });
  const done = closed(socket);
  for (const message of messages) socket.send(message);
  if (replies > 0) await gotAll.promise;
  await done;
  return { extensions: socket.extensions, received };
}

Deno.test("connect() sends 1,000 compressed 1 KiB messages that a server keeping one inflater reads intact", async () => {
  const messages = documents(1000);
  const { port, report } = rawDeflateServer({
    answer: "permessage-deflate; server_no_context_takeover",
    expect: messages.length,
    clientWindowBits: 15,
    clientNoContextTakeover: false,
    serverWindowBits: 15,
    serverNoContextTakeover: true,
    send: [],
  });
  const [{ extensions }, seen] = await withDeadline(
    Promise.all([clientRun(port, messages, 0), report]),
    30_000,
    "1,000 messages",
  );
  assert.equal(extensions, "permessage-deflate; server_no_context_takeover");
  assert.equal(
    seen.offer,
    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
  );
  assert.equal(seen.problem, undefined);
  assert.equal(seen.messages.length, 1000);
  assert.ok(seen.messages.every((message, i) => message === messages[i]));
  // Context takeover: each document refers back to the ones before it.
  assert.ok(
    seen.compressedBytes < 1000 * 1024 / 10,
    `${seen.compressedBytes} compressed bytes`,
  );
});

Deno.test("connect() accepts every kind of valid answer and honours it both ways", async () => {
  const answers: Array<Omit<RawServerPlan, "expect" | "send">> = [
    {
      answer: "permessage-deflate",
      clientWindowBits: 15,
      clientNoContextTakeover: false,
      serverWindowBits: 15,
      serverNoContextTakeover: false,
    },
    {
      answer:
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      clientWindowBits: 15,
      clientNoContextTakeover: true,
      serverWindowBits: 15,
      serverNoContextTakeover: true,
    },
    ...[8, 9, 10, 11, 12, 13, 14].map((bits) => ({
      answer:
        `permessage-deflate; server_max_window_bits=${bits}; client_max_window_bits=${bits}`,
      clientWindowBits: bits,
      clientNoContextTakeover: false,
      serverWindowBits: bits,
      serverNoContextTakeover: false,
    })),
  ];
  // Documents that repeat at a distance, so a window too large would show.
  const messages = documents(30);
  const replies = documents(10).map((text) => text.slice(0, 700));
  // Offering 32 KiB windows, so that every answer is valid.
  const deflate = perMessageDeflate({ preset: "dedicated-256k" });
  for (const agreement of answers) {
    const { port, report } = rawDeflateServer({
      ...agreement,
      expect: messages.length,
      send: replies,
    });
    const [{ extensions, received }, seen] = await withDeadline(
      Promise.all([
        clientRun(port, messages, replies.length, deflate),
        report,
      ]),
      20_000,
      agreement.answer,
    );
    assert.equal(extensions, agreement.answer);
    assert.equal(seen.problem, undefined, agreement.answer);
    assert.deepEqual(seen.messages, messages, agreement.answer);
    assert.deepEqual(received, replies, agreement.answer);
  }
});

Deno.test("without the option nothing is offered, and a server that answers anyway is refused", async () => {
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const offered = request.headers.get("sec-websocket-extensions");
      const { socket, response } = upgradeWebSocket(request, {
        perMessageDeflate: perMessageDeflate(),
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
      head += decoder.decode(buffer.subarray(0, count));
    }
    const key = /sec-websocket-key: *([^\r\n]+)/i.exec(head)![1];
    await conn.write(
      encoder.encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptFor(
            key,
          )}\r\n` +
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

Deno.test("perMessageDeflate: true is refused with a pointer to the ./deflate entry", async () => {
  await assert.rejects(
    connect("ws://127.0.0.1:9/", {
      perMessageDeflate: true as unknown as false,
    }),
    /@rfc6455\/websocket\/deflate/,
  );
});
