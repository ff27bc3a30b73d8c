/**
 * A chat server with rooms, built on this library's `serve`,
 * `upgradeWebSocket` and pub/sub topics (one topic per room), with a
 * vanilla JS page:
 *
 * ```sh
 * deno task chat                # http://localhost:3000/
 * PORT=8080 deno task chat      # HOST=127.0.0.1 to listen on loopback only
 * ```
 *
 * `GET /` serves the page; `/ws` accepts the WebSocket. The JSON protocol is
 * described in `chat/PROTOCOL.md` and checked by `chat/protocol.ts`. SIGINT
 * or SIGTERM shuts down gracefully (every socket is closed with 1001).
 *
 * @module
 */

import { serve, type Server, upgradeWebSocket } from "../../mod.ts";
import { perMessageDeflate } from "../../deflate.ts";
import type { WebSocketConnection } from "../../mod.ts";
import {
  type ChatErrorCode,
  type ClientMessage,
  encodeServerMessage,
  MAX_CHAT_MESSAGE_BYTES,
  type MembershipNotice,
  parseClientMessage,
  SESSION_REPLACED_CLOSE_CODE,
  SESSION_REPLACED_REASON,
} from "./protocol.ts";
import { type Member, Rooms } from "./rooms.ts";
import { StaticFiles } from "../static_files.ts";
import type { ChatCluster } from "./cluster.ts";
import {
  optionalEnv,
  serverCommandLineOrExit,
  superviseWorkers,
  workerNumber,
} from "../workers.ts";
import { exitWithUsage, startOrExit } from "../cli.ts";

/** The port used when `PORT` is not set: 3000. */
export const DEFAULT_CHAT_PORT = 3000;
/** The address listened on when `HOST` is not set: every IPv4 interface. */
export const DEFAULT_CHAT_HOSTNAME = "0.0.0.0";
/** Most bytes that may wait to be written to one client before it is
 * dropped with 1008 (it does not read fast enough): 1 MiB. */
export const CHAT_MAX_QUEUED_BYTES = 1024 * 1024;

/** permessage-deflate for every connection: context takeover, so that a
 * stream of 100-200 byte JSON messages shrinks several times. Room messages
 * go out through pub/sub, encoded once for every member, uncompressed. */
const CHAT_COMPRESSION = perMessageDeflate();

const STATIC_DIR = new URL("./static/", import.meta.url);

/** The only paths served over plain HTTP, with their files. */
const PAGE_FILES: ReadonlyMap<string, string> = new Map([
  ["/", "index.html"],
  ["/app.js", "app.js"],
  ["/style.css", "style.css"],
]);

/** Options of {@linkcode startChatServer}. */
export interface ChatServerOptions {
  /** The port; default {@linkcode DEFAULT_CHAT_PORT}. 0 picks a free one. */
  port?: number;
  /** The address; default {@linkcode DEFAULT_CHAT_HOSTNAME}. */
  hostname?: string;
  /** Where log lines go; default `console.log`. `false` turns logging off. */
  log?: ((line: string) => void) | false;
  /** Milliseconds shutdown may take before connections are cut. */
  shutdownTimeout?: number;
  /** Share the port with other processes (`--workers`); default false. */
  reusePort?: boolean;
  /** `redis://host:port`: share rooms, members and history with every chat
   * process using the same Redis (see `cluster.ts`). Default: none, one
   * process with everything in memory. */
  redisUrl?: string;
  /** Put before every Redis key and channel; default `"chat:"`. */
  redisPrefix?: string;
  /** With Redis: milliseconds a member stays listed after its process
   * stopped renewing it; default `CHAT_PRESENCE_TTL_MS`. */
  presenceTtl?: number;
  /** With Redis: entries each room's history keeps; default
   * `CHAT_HISTORY_SIZE`. */
  historySize?: number;
}

/** A running chat server. */
export interface ChatServer {
  /** The address listened on, with the real port. */
  readonly addr: Deno.NetAddr;
  /** The page's URL (`localhost` when listening on every interface). */
  readonly url: string;
  /** Settles once the server has shut down. */
  readonly finished: Promise<void>;
  /** Every room that has members, with its members (with Redis: this
   * process's members only). */
  rooms(): Map<string, string[]>;
  /** Closes every socket with 1001 and stops. */
  shutdown(): Promise<void>;
}

/** One connection's place in the chat: its name in its room. */
type Session = Member<ChatConnection>;

function roomTopic(room: string): string {
  return `room:${room}`;
}

/** Connects one socket to the rooms. */
class ChatConnection {
  readonly #socket: WebSocketConnection;
  readonly #server: Server;
  readonly #rooms: Rooms<ChatConnection>;
  readonly #log: (line: string) => void;
  #session: Session | null = null;

  constructor(
    socket: WebSocketConnection,
    server: Server,
    rooms: Rooms<ChatConnection>,
    log: (line: string) => void,
  ) {
    this.#socket = socket;
    this.#server = server;
    this.#rooms = rooms;
    this.#log = log;
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = () => this.#leave("disconnected");
  }

  #receive(data: unknown): void {
    if (typeof data !== "string") {
      return this.#error(
        "binary_not_supported",
        "binary messages are not part of the protocol; send JSON text",
      );
    }
    const parsed = parseClientMessage(data);
    if (!parsed.ok) return this.#error(parsed.code, parsed.message);
    this.#handle(parsed.message);
  }

  #handle(message: ClientMessage): void {
    const session = this.#session;
    if (message.type === "join") return this.#join(message);
    if (session === null) {
      return this.#error("not_joined", "join a room first");
    }
    if (message.type === "leave") return this.#leave("left");
    this.#server.publish(
      roomTopic(session.room),
      encodeServerMessage({
        type: "message",
        username: session.username,
        room: session.room,
        text: message.text,
        ts: Date.now(),
      }),
    );
  }

  #join(join: { username: string; room: string; token: string | null }): void {
    if (this.#session?.room === join.room) {
      return this.#error(
        "already_joined",
        `you are in "${join.room}" already`,
      );
    }
    const claim = this.#rooms.claim(join.room, join.username, this, join.token);
    if (claim.outcome === "taken") {
      return this.#error(
        "username_taken",
        `"${join.username}" is taken in "${join.room}"`,
      );
    }
    // A second join switches rooms: leave the first once the name is ours.
    this.#leave("switched");
    const session = claim.member;
    this.#session = session;
    if (claim.outcome === "resumed") {
      // The room's members do not change: only the two connections hear.
      claim.replaced.#replaced();
      this.#socket.subscribe(roomTopic(session.room));
      this.#sendOwnJoin(session, true);
      this.#log(
        `resume ${session.room}: ${session.username} (stale connection closed)`,
      );
      return;
    }
    // The others hear the join first; the joiner's copy carries its token.
    this.#announce("join", session);
    this.#socket.subscribe(roomTopic(session.room));
    this.#sendOwnJoin(session, false);
    this.#log(`join ${session.room}: ${session.username}`);
  }

  /** The joiner's own join notice, with its resume token. */
  #sendOwnJoin(session: Session, resumed: boolean): void {
    const notice: MembershipNotice = {
      type: "join",
      username: session.username,
      room: session.room,
      members: this.#rooms.members(session.room),
      ts: Date.now(),
      token: session.token,
    };
    if (resumed) notice.resumed = true;
    this.#socket.send(encodeServerMessage(notice));
  }

  /** Another connection resumed this one's session: it leaves without a
   * trace in the room and is closed with a code that says why. */
  #replaced(): void {
    const session = this.#session;
    if (session === null) return;
    this.#session = null;
    this.#socket.unsubscribe(roomTopic(session.room));
    this.#socket.close(SESSION_REPLACED_CLOSE_CODE, SESSION_REPLACED_REASON);
  }

  /** Leaves the current room, if any; the leaver hears it too when open. */
  #leave(why: string): void {
    const session = this.#session;
    if (session === null) return;
    this.#session = null;
    this.#rooms.release(session);
    this.#announce("leave", session);
    this.#socket.unsubscribe(roomTopic(session.room));
    this.#log(`leave ${session.room}: ${session.username} (${why})`);
  }

  #announce(type: "join" | "leave", session: Session): void {
    this.#server.publish(
      roomTopic(session.room),
      encodeServerMessage({
        type,
        username: session.username,
        room: session.room,
        members: this.#rooms.members(session.room),
        ts: Date.now(),
      }),
    );
  }

  #error(code: ChatErrorCode, message: string): void {
    this.#socket.send(encodeServerMessage({ type: "error", code, message }));
  }
}

function pageUrl(addr: Deno.NetAddr): string {
  const everywhere = addr.hostname === "0.0.0.0" || addr.hostname === "::";
  const host = everywhere
    ? "localhost"
    : addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `http://${host}:${addr.port}/`;
}

/**
 * Starts the chat server. Tests use
 * `startChatServer({ hostname: "127.0.0.1", port: 0, log: false })`.
 *
 * @param options where to listen and where to log
 * @returns the running server
 */
export async function startChatServer(
  options: ChatServerOptions = {},
): Promise<ChatServer> {
  const log = options.log === false ? () => {} : options.log ?? console.log;
  const files = await StaticFiles.load(STATIC_DIR, PAGE_FILES);
  const rooms = new Rooms<ChatConnection>();
  let cluster: ChatCluster | null = null;
  let server: Server | null = null;
  if (options.redisUrl !== undefined) {
    const { ChatCluster } = await import("./cluster.ts");
    cluster = await ChatCluster.start(
      {
        url: options.redisUrl,
        log,
        prefix: options.redisPrefix,
        presenceTtl: options.presenceTtl,
        historySize: options.historySize,
      },
      () => server!,
      log,
    );
  }
  let url = "";
  server = serve({
    port: options.port ?? DEFAULT_CHAT_PORT,
    hostname: options.hostname ?? DEFAULT_CHAT_HOSTNAME,
    shutdownTimeout: options.shutdownTimeout,
    reusePort: options.reusePort,
    onListen(addr) {
      url = pageUrl(addr);
      log(`chat server listening on ${url} (WebSocket at /ws)`);
    },
  }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/ws") {
      const { socket, response } = upgradeWebSocket(request, {
        maxMessageSize: MAX_CHAT_MESSAGE_BYTES,
        maxQueuedBytes: CHAT_MAX_QUEUED_BYTES,
        // Only the chat's own page (its origin is the one this request was
        // sent to) and non-browser clients (no Origin) may join: any other
        // site's page would come with the user's cookies.
        origins: [new URL(request.url).origin, null],
        perMessageDeflate: CHAT_COMPRESSION,
      });
      if (cluster !== null) cluster.accept(socket);
      else new ChatConnection(socket, server!, rooms, log);
      return response;
    }
    return files.respond(request, path);
  });
  const running = server;
  let stopped: Promise<void> | undefined;
  return {
    addr: running.addr,
    url,
    finished: running.finished,
    rooms: () => cluster?.localRooms() ?? rooms.snapshot(),
    shutdown: () =>
      stopped ??= (async () => {
        await running.shutdown();
        await cluster?.close();
      })(),
  };
}

/** The permissions a worker process needs. */
const WORKER_PERMISSIONS = [
  "--unstable-net",
  "--allow-net",
  `--allow-read=${STATIC_DIR.pathname}`,
  "--allow-env=PORT,HOST,REDIS_URL,RFC6455_WORKER",
];

/** Runs the server until SIGINT or SIGTERM, then shuts down gracefully;
 * with `--workers N`, runs N of them on one port. */
async function main(): Promise<void> {
  const usage = "deno task chat [--port N] [--hostname ADDRESS] [--workers N]";
  const { settings, workers, rest } = serverCommandLineOrExit(
    "chat server",
    usage,
    { port: DEFAULT_CHAT_PORT, hostname: DEFAULT_CHAT_HOSTNAME },
  );
  const redisUrl = optionalEnv("REDIS_URL") || undefined;
  const worker = workerNumber();
  if (workers !== undefined && worker === undefined) {
    if (redisUrl === undefined && workers > 1) {
      exitWithUsage(
        "chat server",
        "--workers needs REDIS_URL (the processes share rooms through Redis)",
        usage,
      );
    }
    await superviseWorkers({
      count: workers,
      script: new URL(import.meta.url),
      permissions: WORKER_PERMISSIONS,
      args: rest,
    });
    return;
  }
  const label = worker === undefined ? "" : `worker ${worker}: `;
  const server: ChatServer = await startOrExit(
    "chat server",
    settings,
    () =>
      startChatServer({
        ...settings,
        redisUrl,
        reusePort: worker !== undefined,
        log: (line) => console.log(label + line),
      }),
    (error) =>
      (error as Error).name === "RedisUnavailableError"
        ? `${
          (error as Error).message
        } (REDIS_URL); start Redis, or unset REDIS_URL to run one process on its own`
        : undefined,
  );
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  const stop = (): void => {
    console.log(`${label}shutting down: closing every socket with 1001`);
    void server.shutdown();
  };
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await server.finished;
  await server.shutdown();
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
}

if (import.meta.main) await main();
