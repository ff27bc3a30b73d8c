// The checks `connect()` must pass against any echo server that follows
// tests/peers/echo_server.ts's conventions (echo on "/", 403 elsewhere,
// subprotocol "chat" when offered, "close:<code>:<reason>" closes). Run
// against this library's server in client_deno_test.ts and against servers
// nobody here wrote in client_interop_deno_test.ts.

import assert from "node:assert/strict";
import { connect as denoConnect } from "../../mod.ts";
import { connect as nodeConnect } from "../../node.ts";
import { HandshakeError } from "../../errors.ts";
import type { WebSocketConnection } from "../../socket/websocket.ts";
import type { RunningEchoServer } from "../interop/peers/echo_server.ts";
import {
  describe,
  patternBytes,
  patternText,
  test,
  type TestOptions,
} from "./client_deno.ts";
import { nextEvent } from "./websocket.ts";

/** The sizes every server must echo unchanged, as text and as binary. */
export const ECHO_SIZES: readonly number[] = [0, 125, 126, 65535, 65536];

/** The big binary message every server must echo. */
export const BIG_MESSAGE_SIZE = 16 * 1024 * 1024;

/** Closes `socket` and waits for its "close" event (does nothing if closed). */
export async function closeAndWait(socket: WebSocketConnection): Promise<void> {
  if (socket.readyState === socket.CLOSED) return;
  const closed = nextEvent(socket, "close");
  socket.close();
  await closed;
}

/** Sends each payload and checks that the same message comes back, in order. */
async function expectEchoes(
  socket: WebSocketConnection,
  payloads: ReadonlyArray<string | Uint8Array>,
): Promise<void> {
  const messages = socket[Symbol.asyncIterator]();
  try {
    for (const payload of payloads) {
      socket.send(payload);
      const reply = await messages.next();
      assert.equal(reply.done, false, "the socket closed instead of echoing");
      const kind = typeof payload === "string" ? "text" : "binary";
      const label = `${kind} message of ${payload.length}`;
      if (typeof payload === "string") {
        assert.equal(typeof reply.value, "string", label);
        assert.ok(reply.value === payload, `${label} came back changed`);
      } else {
        assert.ok(reply.value instanceof Uint8Array, label);
        assert.equal(reply.value.length, payload.length, label);
        assert.ok(
          sameBytes(reply.value, payload),
          `${label} came back changed`,
        );
      }
    }
  } finally {
    await messages.return?.();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The two clients every check runs with: Deno's and node:net's. */
export const CLIENTS = [
  { label: "connect() (Deno)", connect: denoConnect },
  { label: "connect() (node:net)", connect: nodeConnect },
] as const;

/**
 * Registers the client checks against the echo server `start` runs, once
 * for each of {@linkcode CLIENTS}. The server is started and shut down
 * inside each test.
 *
 * @param name the server's name, for test titles
 * @param start starts the server on 127.0.0.1
 * @param options sanitizer settings for servers that run under Node
 * compatibility (their internals leave ops the sanitizers cannot tell apart)
 */
export function defineClientChecks(
  name: string,
  start: () => Promise<RunningEchoServer>,
  options: TestOptions = {},
): void {
  for (const client of CLIENTS) {
    defineChecksWith(client.label, client.connect, name, start, options);
  }
}

function defineChecksWith(
  label: string,
  connect: typeof denoConnect,
  name: string,
  start: () => Promise<RunningEchoServer>,
  options: TestOptions,
): void {
  async function withEcho(
    body: (url: string) => Promise<void>,
  ): Promise<void> {
    const server = await start();
    try {
      await body(server.url);
    } finally {
      await server.close();
    }
  }

  describe(`${label} against ${name}`, () => {
    test(
      "text messages of 0, 125, 126, 65535 and 65536 bytes echo",
      () =>
        withEcho(async (url) => {
          const socket = await connect(`${url}/`);
          try {
            await expectEchoes(socket, ECHO_SIZES.map(patternText));
          } finally {
            await closeAndWait(socket);
          }
        }),
      options,
    );

    test(
      "binary messages of 0 to 65536 bytes and 16 MiB echo",
      () =>
        withEcho(async (url) => {
          const socket = await connect(`${url}/`);
          try {
            const sizes = [...ECHO_SIZES, BIG_MESSAGE_SIZE];
            await expectEchoes(socket, sizes.map((size) => patternBytes(size)));
          } finally {
            await closeAndWait(socket);
          }
        }),
      options,
    );

    test(
      "binaryType selects ArrayBuffer or Blob in message events",
      () =>
        withEcho(async (url) => {
          const socket = await connect(`${url}/`);
          try {
            assert.equal(socket.binaryType, "blob");
            socket.send(new Uint8Array([1, 2, 3]));
            const asBlob = await nextEvent<MessageEvent>(socket, "message");
            assert.ok(asBlob.data instanceof Blob);
            assert.deepEqual(
              [...new Uint8Array(await asBlob.data.arrayBuffer())],
              [1, 2, 3],
            );
            socket.binaryType = "arraybuffer";
            socket.send(new Uint8Array([4, 5]));
            const asBuffer = await nextEvent<MessageEvent>(socket, "message");
            assert.ok(asBuffer.data instanceof ArrayBuffer);
            assert.deepEqual([...new Uint8Array(asBuffer.data)], [4, 5]);
          } finally {
            await closeAndWait(socket);
          }
        }),
      options,
    );

    test(
      "the client closes with a code and reason; the close is clean",
      () =>
        withEcho(async (url) => {
          const socket = await connect(`${url}/`);
          const closed = nextEvent<CloseEvent>(socket, "close");
          socket.close(4000, "client bye \u2603");
          assert.equal(socket.readyState, socket.CLOSING);
          const event = await closed;
          // The event reports the server's close frame: servers echo the
          // code; echoing the reason is optional (RFC 6455 section 5.5.1).
          assert.equal(event.code, 4000);
          assert.equal(event.wasClean, true);
          assert.equal(socket.readyState, socket.CLOSED);
        }),
      options,
    );

    test(
      "the server closes with a code and reason; the close is clean",
      () =>
        withEcho(async (url) => {
          const socket = await connect(`${url}/`);
          const closed = nextEvent<CloseEvent>(socket, "close");
          socket.send("close:4001:server bye \u2603");
          const event = await closed;
          assert.equal(event.code, 4001);
          assert.equal(event.reason, "server bye \u2603");
          assert.equal(event.wasClean, true);
        }),
      options,
    );

    test(
      "the server picks the offered subprotocol, or none",
      () =>
        withEcho(async (url) => {
          const chat = await connect(`${url}/`, {
            protocols: ["superchat", "chat"],
          });
          assert.equal(chat.protocol, "chat");
          await closeAndWait(chat);
          const single = await connect(`${url}/`, { protocols: "chat" });
          assert.equal(single.protocol, "chat");
          await closeAndWait(single);
          const none = await connect(`${url}/`);
          assert.equal(none.protocol, "");
          assert.equal(none.extensions, "");
          await closeAndWait(none);
        }),
      options,
    );

    test(
      "a refused handshake rejects with HandshakeError 403",
      () =>
        withEcho(async (url) => {
          await assert.rejects(connect(`${url}/reject`), (error: unknown) => {
            assert.ok(error instanceof HandshakeError, String(error));
            assert.equal(error.status, 403);
            return true;
          });
        }),
      options,
    );
  });
}
