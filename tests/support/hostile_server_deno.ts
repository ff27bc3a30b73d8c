// A hostile server for connect(): a raw TCP server (client_deno.ts's
// RawServer, with its own request and frame readers) that completes the
// opening handshake and then sends bytes that break the RFC's rules, so a
// test can check what the client does about them: the close code it sends,
// that it then ends TCP, and the events its socket dispatches. The socket
// under test echoes every message, as a conformance client does. Deno only.
import assert from "node:assert/strict";
import { connect, type ConnectOptions } from "../../mod.ts";
import type { WebSocketConnection } from "../../socket/websocket.ts";
import { withDeadline } from "../interop/peers/bounded.ts";
import { type RawPeer, RawServer } from "./client_deno.ts";

/** How long the peer waits for anything from the client, in milliseconds. */
export const CLIENT_DEADLINE = 10_000;

/** The offer a hostile server answers when it agrees permessage-deflate. */
export const AGREE_DEFLATE =
  "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n";

/** What a client socket dispatched, as short strings in order. */
function recordEvents(socket: WebSocketConnection): string[] {
  const log: string[] = [];
  socket.addEventListener("message", (event) => {
    const data = (event as MessageEvent).data;
    log.push(`message:${typeof data === "string" ? data : "binary"}`);
  });
  socket.addEventListener("error", () => log.push("error"));
  socket.addEventListener("close", (event) => {
    const { code, reason, wasClean } = event as CloseEvent;
    log.push(`close:${code}:${reason}:${wasClean ? "clean" : "unclean"}`);
  });
  return log;
}

/** One connect() to a hostile server, handshake done. */
export interface HostileConnection {
  /** The server's side of the connection. */
  peer: RawPeer;
  /** The client socket, echoing every message. */
  socket: WebSocketConnection;
  /** Everything the socket dispatched so far (see recordEvents). */
  log: string[];
  /** Resolves with the socket's close event. */
  closed: Promise<CloseEvent>;
  /** What the echo handler's send() threw (it never should). */
  sendErrors: unknown[];
}

/** What {@linkcode expectClientFailure} expects. */
export interface ClientFailure {
  /** The bytes the server sends after the 101, each in its own write. */
  pieces: readonly Uint8Array[];
  /** The close code the client must fail the connection with. */
  code: number;
  /** The text messages delivered (and echoed) before the failure. */
  delivered?: readonly string[];
  /** Header lines (each ending in CRLF) the 101 carries. */
  extraHeaders?: string;
  /** Options of connect(). */
  options?: ConnectOptions;
}

/**
 * Runs `body` with a raw server on 127.0.0.1 port 0 and connect() to it,
 * its handshake answered with `extraHeaders`; always closes both.
 *
 * @param extraHeaders header lines for the 101
 * @param options options of connect()
 * @param body the test
 */
export async function withHostileServer(
  extraHeaders: string,
  options: ConnectOptions,
  body: (connection: HostileConnection) => Promise<void>,
): Promise<void> {
  const server = new RawServer();
  let socket: WebSocketConnection | undefined;
  let closed: Promise<CloseEvent> | undefined;
  try {
    const connecting = connect(server.url, { pingInterval: 0, ...options });
    const peer = await withDeadline(
      server.accept(),
      CLIENT_DEADLINE,
      "the client connecting",
    );
    await withDeadline(
      peer.acceptUpgrade(extraHeaders),
      CLIENT_DEADLINE,
      "the client's upgrade request",
    );
    socket = await withDeadline(connecting, CLIENT_DEADLINE, "connect()");
    const opened = socket;
    const log = recordEvents(opened);
    closed = new Promise((resolve) =>
      opened.addEventListener("close", (event) => resolve(event as CloseEvent))
    );
    const sendErrors: unknown[] = [];
    opened.addEventListener("message", (event) => {
      try {
        opened.send((event as MessageEvent).data);
      } catch (error) {
        sendErrors.push(error); // an uncaught throw would end the process
      }
    });
    await body({ peer, socket: opened, log, closed, sendErrors });
  } finally {
    server.close();
    if (socket !== undefined && closed !== undefined) {
      socket.close();
      await withDeadline(closed, CLIENT_DEADLINE, "the client's close event");
    }
  }
}

/**
 * Connects to a hostile server that sends `failure.pieces` after the 101
 * and expects connect()'s socket to fail the connection: the echo of each
 * delivered message, a masked close frame with `failure.code`, then the end
 * of TCP from the client; the socket dispatches those messages, one
 * "error" and a "close" with the code, the reason it sent and wasClean
 * false.
 *
 * @param name the case, for messages
 * @param failure what is sent and what must happen
 */
export async function expectClientFailure(
  name: string,
  failure: ClientFailure,
): Promise<void> {
  const { pieces, code, delivered = [], extraHeaders = "", options = {} } =
    failure;
  await withHostileServer(extraHeaders, options, async (connection) => {
    const { peer, log, closed, sendErrors } = connection;
    const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
      withDeadline(promise, CLIENT_DEADLINE, `${name}: ${what}`);
    for (const piece of pieces) await peer.write(piece);
    for (const text of delivered) {
      const echo = await within(peer.readFrame(), "an echo");
      assert.equal(echo.opcode, 0x1, `${name}: an echo before the close`);
      assert.equal(echo.masked, true, name);
      assert.equal(new TextDecoder().decode(echo.payload), text, name);
    }
    const close = await within(peer.readFrame(), "the close frame");
    assert.equal(close.opcode, 0x8, `${name}: a close frame`);
    assert.equal(close.masked, true, name);
    assert.ok(close.payload.length >= 2, `${name}: a close code`);
    const sentCode = (close.payload[0] << 8) | close.payload[1];
    assert.equal(sentCode, code, `${name}: the close code on the wire`);
    const reason = new TextDecoder("utf-8", { fatal: true }).decode(
      close.payload.subarray(2),
    );
    assert.equal(await peer.readsToEnd(), true, `${name}: the client ends TCP`);
    await within(closed, "the close event");
    assert.deepEqual(log, [
      ...delivered.map((text) => `message:${text}`),
      "error",
      `close:${code}:${reason}:unclean`,
    ], name);
    assert.deepEqual(sendErrors, [], `${name}: send()`);
  });
}
