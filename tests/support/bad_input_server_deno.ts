// An echo server (this library's serve + upgradeWebSocket) that records what
// every server-side socket reported, keyed by request path, and the checks
// the hostile-input tests run against it: a connection the server must fail
// with a given close code, a request head it must refuse with a status, and
// a well-behaved client (Deno's built-in WebSocket) that must still be
// served. Deno only.
import { perMessageDeflate } from "../../deflate.ts";
import assert from "node:assert/strict";
import type { Server } from "../../mod.ts";
import { upgradeWebSocket, type WebSocketConnection } from "../../mod.ts";
import { startServer } from "./server_deno.ts";
import { withDeadline } from "../interop/peers/bounded.ts";
import { clientFrame, concat, RawWebSocket } from "./raw_ws_client_deno.ts";

/** How long to wait for a server-side event, in milliseconds. */
export const EVENT_DEADLINE = 10_000;

/** A write the server has not taken within this many milliseconds means
 * it stopped reading (pushed back). */
export const WRITE_STALL = 2_000;

/** What {@linkcode EchoServerUnderAttack.pingWithoutReading} saw. */
export interface PingFloodResult {
  /** Bytes of pings the server took. */
  sent: number;
  /** The largest server-side bufferedAmount seen while the socket was open. */
  peakBuffered: number;
  /** Whether a write stalled: the server stopped reading. */
  pushedBack: boolean;
  /** The server-side close, if the server ended the connection. */
  closed: CloseReport | null;
}

/** What a server-side "close" event said. */
export interface CloseReport {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** What the server-side socket of one connection reported. */
export interface ServerSide {
  socket: WebSocketConnection;
  /** The messages delivered (text as itself, binary as "binary"). */
  messages: string[];
  errorEvents: number;
  /** What `socket.send` threw in the echo handler (it never should). */
  sendErrors: unknown[];
  closed: Promise<CloseReport>;
}

/** Options of {@linkcode EchoServerUnderAttack}. */
export interface AttackedServerOptions {
  headersTimeout: number;
  maxMessageSize?: number;
  closeTimeout?: number;
  maxQueuedBytes?: number;
  /** Accept permessage-deflate (the default preset). */
  perMessageDeflate?: boolean;
}

/** An echo server on 127.0.0.1 port 0 that remembers its sockets. */
export class EchoServerUnderAttack {
  readonly server: Server;
  readonly port: number;
  readonly sides: Map<string, ServerSide> = new Map();
  #pathCounter = 0;

  constructor(options: AttackedServerOptions) {
    const { headersTimeout, ...socketOptions } = options;
    this.server = startServer(
      (request) => this.#upgrade(request, socketOptions),
      { headersTimeout },
    );
    this.port = this.server.addr.port;
  }

  #upgrade(
    request: Request,
    socketOptions: Omit<AttackedServerOptions, "headersTimeout">,
  ): Response {
    const path = new URL(request.url).pathname;
    const { perMessageDeflate: deflate, ...rest } = socketOptions;
    const { socket, response } = upgradeWebSocket(request, {
      ...rest,
      perMessageDeflate: deflate ? perMessageDeflate() : false,
    });
    const side: ServerSide = {
      socket,
      messages: [],
      errorEvents: 0,
      sendErrors: [],
      closed: new Promise((resolve) => {
        socket.onclose = (event) =>
          resolve({
            code: event.code,
            reason: event.reason,
            wasClean: event.wasClean,
          });
      }),
    };
    socket.onerror = () => side.errorEvents++;
    socket.onmessage = (event) => {
      side.messages.push(
        typeof event.data === "string" ? event.data : "binary",
      );
      try {
        socket.send(event.data);
      } catch (error) {
        side.sendErrors.push(error); // an uncaught throw would end the process
      }
    };
    this.sides.set(path, side);
    return response;
  }

  /** A path no other connection used, so its socket can be found. */
  uniquePath(name: string): string {
    this.#pathCounter++;
    return `/${this.#pathCounter}-${name}`;
  }

  /** The server-side socket that served `path`. */
  side(path: string): ServerSide {
    const side = this.sides.get(path);
    assert.ok(side, `no server-side socket for ${path}`);
    return side;
  }

  /** The close event of the socket that served `path`. */
  closeOf(path: string): Promise<CloseReport> {
    return withDeadline(
      this.side(path).closed,
      EVENT_DEADLINE,
      `the server-side close event of ${path}`,
    );
  }

  /**
   * Upgrade, send `bytes`, and expect the server to fail the connection:
   * the echo of each text message in `delivered`, a close frame with
   * `code`, then the end of TCP; on the server side those messages, one
   * error event and a close event with `code`, wasClean false and the
   * reason that was sent. `extraHead` adds header lines to the upgrade.
   */
  async expectFailure(
    name: string,
    bytes: Uint8Array,
    code: number,
    extraHead = "",
    delivered: readonly string[] = [],
  ): Promise<void> {
    await this.expectFailureInPieces(name, [bytes], code, {
      extraHead,
      delivered,
    });
  }

  /**
   * As {@linkcode expectFailure}, but the bytes go in `pieces`, one write
   * each, awaiting each write; the failure must come after the last one
   * (no more bytes are sent).
   */
  async expectFailureInPieces(
    name: string,
    pieces: readonly Uint8Array[],
    code: number,
    options: { extraHead?: string; delivered?: readonly string[] } = {},
  ): Promise<void> {
    const { extraHead = "", delivered = [] } = options;
    const path = this.uniquePath(name);
    const socket = await RawWebSocket.open(this.port, path, extraHead);
    try {
      for (const piece of pieces) await socket.send(piece);
      for (const text of delivered) {
        const echo = await socket.readFrame();
        assert.equal(echo.opcode, 0x1, `${name}: an echo before the close`);
        assert.equal(new TextDecoder().decode(echo.payload), text, name);
      }
      const close = await socket.readClose();
      assert.equal(close.code, code, `${name}: the close code on the wire`);
      await socket.expectEnd();
      const report = await this.closeOf(path);
      assert.deepEqual(
        report,
        { code, reason: close.reason, wasClean: false },
        `${name}: the server-side close event`,
      );
      const side = this.side(path);
      assert.deepEqual(side.messages, delivered, `${name}: messages`);
      assert.equal(side.errorEvents, 1, `${name}: error events`);
      assert.deepEqual(side.sendErrors, [], `${name}: send()`);
    } finally {
      socket.close();
    }
  }

  /** Send a request head (or part of one); expect `status`, then the end
   * of TCP. Returns the response headers. */
  async expectRefusal(
    head: string,
    status: number,
  ): Promise<Map<string, string>> {
    const socket = await RawWebSocket.connect(this.port);
    try {
      await socket.send(head);
      const response = await socket.readResponse();
      assert.equal(response.status, status, response.statusLine);
      await socket.expectEnd();
      return response.headers;
    } finally {
      socket.close();
    }
  }

  /** Deno's built-in WebSocket echoes a text and a binary message, then
   * closes cleanly; the server side reports the same clean close. */
  async goodClient(name: string): Promise<void> {
    const path = this.uniquePath(name);
    const socket = new WebSocket(`ws://127.0.0.1:${this.port}${path}`);
    socket.binaryType = "arraybuffer";
    const received: unknown[] = [];
    let gotBoth!: () => void;
    const bothEchoed = new Promise<void>((resolve) => gotBoth = resolve);
    const opened = new Promise((resolve) => socket.onopen = resolve);
    const closed = new Promise<CloseEvent>((resolve) => {
      socket.onclose = resolve;
    });
    const failed = new Promise<never>((_, reject) => {
      socket.onerror = () => reject(new Error(`${name}: an error event`));
    });
    failed.catch(() => {});
    socket.onmessage = (event) => {
      received.push(event.data);
      if (received.length === 2) gotBoth();
    };
    const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
      withDeadline(
        Promise.race([promise, failed]),
        EVENT_DEADLINE,
        `${name}: ${what}`,
      );
    try {
      await within(opened, "open");
      socket.send(`hello from ${name}`);
      socket.send(new Uint8Array([0, 1, 2, 255]));
      await within(bothEchoed, "the echoes");
      assert.equal(received[0], `hello from ${name}`);
      assert.deepEqual(
        new Uint8Array(received[1] as ArrayBuffer),
        new Uint8Array([0, 1, 2, 255]),
      );
      socket.close(1000, "bye");
      const event = await within(closed, "close");
      assert.deepEqual(
        { code: event.code, wasClean: event.wasClean },
        { code: 1000, wasClean: true },
      );
      assert.deepEqual(await this.closeOf(path), {
        code: 1000,
        reason: "bye",
        wasClean: true,
      });
      assert.deepEqual(this.side(path).sendErrors, [], `${name}: send()`);
    } finally {
      if (socket.readyState !== WebSocket.CLOSED) {
        socket.close();
        await withDeadline(closed, EVENT_DEADLINE, `${name}: close`);
      }
    }
  }

  /**
   * Send `total` bytes of 125-byte pings and never read a pong, watching the
   * server-side socket's bufferedAmount after every 1000 pings. Stops early
   * when a write stalls for {@linkcode WRITE_STALL} or fails.
   */
  async pingWithoutReading(total: number): Promise<PingFloodResult> {
    const path = this.uniquePath("ping-flood");
    const socket = await RawWebSocket.open(this.port, path);
    const side = this.side(path);
    const ping = clientFrame(0x9, new Uint8Array(125));
    const batch = concat(...new Array<Uint8Array>(1000).fill(ping));
    const result: PingFloodResult = {
      sent: 0,
      peakBuffered: 0,
      pushedBack: false,
      closed: null,
    };
    let report: CloseReport | null = null;
    side.closed.then((closed) => report = closed);
    try {
      while (result.sent < total && report === null) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = new Promise<"stalled">((resolve) => {
          timer = setTimeout(() => resolve("stalled"), WRITE_STALL);
        });
        try {
          const outcome = await Promise.race([socket.send(batch), stalled]);
          if (outcome === "stalled") {
            result.pushedBack = true;
            break;
          }
        } catch {
          break; // the server closed the connection
        } finally {
          clearTimeout(timer);
        }
        result.sent += batch.length;
        if (side.socket.readyState === 1) {
          result.peakBuffered = Math.max(
            result.peakBuffered,
            side.socket.bufferedAmount,
          );
        }
      }
    } finally {
      socket.close();
    }
    result.closed = await this.closeOf(path);
    return result;
  }

  /** Every socket the server opened has reported its close. */
  async allClosed(): Promise<number> {
    const reports = await Promise.all(
      [...this.sides.keys()].map((path) => this.closeOf(path)),
    );
    return reports.length;
  }

  shutdown(): Promise<void> {
    return this.server.shutdown();
  }
}
