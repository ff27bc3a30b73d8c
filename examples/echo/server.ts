/**
 * An echo server built on this library's `serve` and `upgradeWebSocket`,
 * with a page that shows what WebSocket frames look like on the wire.
 *
 * ```sh
 * deno task serve                 # http://localhost:3000/
 * deno task serve --port 8080     # or PORT=8080, HOST=127.0.0.1
 * ```
 *
 * At `/` a WebSocket upgrade is accepted (subprotocol `chat` and
 * permessage-deflate when offered, with context takeover, compressing
 * messages of at least `ECHO_SERVER_COMPRESSION_THRESHOLD` bytes, 32) and
 * every message comes
 * back with its type; a plain `GET /` returns the page. At
 * {@linkcode PLAIN_ECHO_PATH} the same echo declines permessage-deflate, for
 * the page's "compression" switch (a browser cannot stop offering it). The
 * same conventions as the interop suite's echo servers
 * (`tests/peers/echo_server.ts`) apply:
 *
 * - the text `close:<code>:<reason>` is not echoed: the server closes with
 *   that code and reason;
 * - the text `ping:<payload>` is not echoed: the server sends a ping with
 *   that payload and, when the pong comes back, the text `pong:<payload>`;
 * - an upgrade on any other path than `/` and {@linkcode PLAIN_ECHO_PATH}
 *   is refused with 403.
 *
 * Connections, disconnections and close codes are logged. SIGINT or SIGTERM
 * shuts the server down gracefully: messages already sent are delivered,
 * open sockets are closed with 1001, and the process exits 0; a second
 * signal exits at once.
 *
 * @module
 */

import {
  serve,
  type ServeHandler,
  type ServeOptions,
  type Server,
  upgradeWebSocket,
} from "../../mod.ts";
import { serveNodeNet } from "../../node.ts";
import { perMessageDeflate } from "../../deflate.ts";
import { ECHO_SERVER_COMPRESSION_THRESHOLD } from "./page_codec.ts";
import {
  serverCommandLineOrExit,
  superviseWorkers,
  workerNumber,
} from "../workers.ts";
import { StaticFiles } from "../static_files.ts";
import { startOrExit } from "../cli.ts";

/** The port used when neither `--port` nor `PORT` is given: 3000. */
export const DEFAULT_ECHO_PORT = 3000;
/** The address listened on when neither `--hostname` nor `HOST` is given:
 * `"0.0.0.0"` (every IPv4 interface). */
export const DEFAULT_ECHO_HOSTNAME = "0.0.0.0";
/** The subprotocol the echo server selects when a client offers it. */
export const ECHO_SUBPROTOCOL = "chat";
/** The path where WebSocket upgrades are echoed without permessage-deflate,
 * even when the client offers it: `"/plain"`. */
export const PLAIN_ECHO_PATH = "/plain";

/** Where the page's files are, relative to this module. */
const STATIC_DIR = new URL("./static/", import.meta.url);

/** The only paths served over plain HTTP, with their files. */
const PAGE_FILES: ReadonlyMap<string, string> = new Map([
  ["/", "index.html"],
  ["/app.js", "app.js"],
  ["/frame_card.js", "frame_card.js"],
  ["/codec.js", "codec.js"],
  ["/style.css", "style.css"],
]);

/** Options of {@linkcode startEchoServer}. */
export interface EchoServerOptions {
  /** The port; default {@linkcode DEFAULT_ECHO_PORT}. 0 picks a free one. */
  port?: number;
  /** The address to listen on; default {@linkcode DEFAULT_ECHO_HOSTNAME}. */
  hostname?: string;
  /** Where log lines go; default `console.log`. `false` turns logging off. */
  log?: ((line: string) => void) | false;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /** Milliseconds shutdown may take before connections are cut; default
   * the server's own default. */
  shutdownTimeout?: number;
  /** `"deno"` (default) serves with `serve()` on `Deno.Conn`; `"node:net"`
   * with `serveNodeNet()`, for many busy connections. */
  transport?: "deno" | "node:net";
  /** Share the port with other processes (`--workers`); default false. */
  reusePort?: boolean;
}

/** A running echo server. */
export interface EchoServer {
  /** The address listened on, with the real port. */
  readonly addr: Deno.NetAddr;
  /** The page's URL, like `http://127.0.0.1:3000/` (`localhost` when
   * listening on every interface). */
  readonly url: string;
  /** Settles once the server has shut down. */
  readonly finished: Promise<void>;
  /** Closes every socket with 1001 and stops; see `Server.shutdown`. */
  shutdown(): Promise<void>;
}

/**
 * Splits `close:<code>:<reason>` into its parts, or returns null when `text`
 * is not a close command.
 *
 * @param text a received text message
 * @returns the code and reason to close with
 */
export function parseCloseCommand(
  text: string,
): { code: number; reason: string } | null {
  if (!text.startsWith("close:")) return null;
  const rest = text.slice("close:".length);
  const colon = rest.indexOf(":");
  const codeText = colon === -1 ? rest : rest.slice(0, colon);
  const reason = colon === -1 ? "" : rest.slice(colon + 1);
  const code = Number(codeText);
  if (codeText === "" || !Number.isInteger(code)) return null;
  return { code, reason };
}

/** Whether a comma-separated header value lists `token` (any case). */
function headerHasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const item of value.split(",")) {
    if (item.trim().toLowerCase() === token) return true;
  }
  return false;
}

function formatAddress(addr: Deno.NetAddr): string {
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `${host}:${addr.port}`;
}

function pageUrl(addr: Deno.NetAddr): string {
  const everywhere = addr.hostname === "0.0.0.0" || addr.hostname === "::";
  const shown = everywhere ? { ...addr, hostname: "localhost" } : addr;
  return `http://${formatAddress(shown)}/`;
}

const textDecoder = new TextDecoder();

/** Wires one upgraded socket to the echo conventions. */
function echo(
  socket: ReturnType<typeof upgradeWebSocket>["socket"],
  peer: string,
  log: (line: string) => void,
): void {
  socket.binaryType = "arraybuffer";
  const pingsAwaitingPong = new Set<string>();
  socket.onopen = () => {
    const protocol = socket.protocol === "" ? "none" : socket.protocol;
    log(`connect ${peer} (subprotocol: ${protocol})`);
  };
  socket.addEventListener("pong", (event) => {
    const payload = textDecoder.decode(event.data);
    if (pingsAwaitingPong.delete(payload)) socket.send(`pong:${payload}`);
  });
  socket.onmessage = (event) => {
    if (typeof event.data === "string") {
      const command = parseCloseCommand(event.data);
      if (command !== null) {
        try {
          socket.close(command.code, command.reason);
        } catch (error) {
          socket.send(`cannot close: ${(error as Error).message}`);
        }
        return;
      }
      if (event.data.startsWith("ping:")) {
        const payload = event.data.slice("ping:".length);
        try {
          socket.ping(payload);
          pingsAwaitingPong.add(payload);
        } catch (error) {
          socket.send(`cannot ping: ${(error as Error).message}`);
        }
        return;
      }
    }
    socket.send(event.data);
  };
  socket.onerror = (event) => {
    const message = (event as ErrorEvent).message ?? "";
    log(`error ${peer}${message === "" ? "" : `: ${message}`}`);
  };
  socket.onclose = (event) => {
    const reason = event.reason === "" ? "" : ` reason "${event.reason}"`;
    const clean = event.wasClean ? "" : " (not clean)";
    log(`disconnect ${peer} code ${event.code}${reason}${clean}`);
  };
}

/**
 * Starts the echo server and the page. Tests use
 * `startEchoServer({ hostname: "127.0.0.1", port: 0, log: false })`.
 *
 * @param options where to listen and where to log
 * @returns the running server; call `shutdown()` to stop it
 */
export async function startEchoServer(
  options: EchoServerOptions = {},
): Promise<EchoServer> {
  const log = options.log === false ? () => {} : options.log ?? console.log;
  const files = await StaticFiles.load(STATIC_DIR, PAGE_FILES);
  let url = "";
  const serveOptions: ServeOptions = {
    port: options.port ?? DEFAULT_ECHO_PORT,
    hostname: options.hostname ?? DEFAULT_ECHO_HOSTNAME,
    signal: options.signal,
    shutdownTimeout: options.shutdownTimeout,
    reusePort: options.reusePort,
    onListen(addr) {
      url = pageUrl(addr);
      log(
        `echo server listening on ${url} (WebSocket at ws://${url.slice(7)})`,
      );
    },
  };
  // One setup for every connection: compressors with context takeover.
  const echoCompression = perMessageDeflate({
    threshold: ECHO_SERVER_COMPRESSION_THRESHOLD,
  });
  const handler: ServeHandler = (request, info) => {
    const path = new URL(request.url).pathname;
    if (headerHasToken(request.headers.get("upgrade"), "websocket")) {
      if (path !== "/" && path !== PLAIN_ECHO_PATH) {
        return new Response(
          `WebSocket upgrades are accepted at / and ${PLAIN_ECHO_PATH} only\n`,
          { status: 403 },
        );
      }
      // Both selected only when the client offered them. Compression is on
      // at / so that browsers (which always offer it) see it out of the box;
      // the page states the threshold, so it comes from the page's codec.
      const { socket, response } = upgradeWebSocket(request, {
        protocol: ECHO_SUBPROTOCOL,
        perMessageDeflate: path === PLAIN_ECHO_PATH ? false : echoCompression,
      });
      echo(socket, formatAddress(info.remoteAddr), log);
      return response;
    }
    return files.respond(request, path);
  };
  const server: Server = options.transport === "node:net"
    ? await serveNodeNet(serveOptions, handler)
    : serve(serveOptions, handler);
  return {
    addr: server.addr,
    url,
    finished: server.finished,
    shutdown: () => server.shutdown(),
  };
}

/** Runs the server until SIGINT or SIGTERM, then shuts down gracefully. */
async function main(): Promise<void> {
  const usage = "deno task serve [--port N] [--hostname ADDRESS] [--workers N]";
  const { settings, workers, rest } = serverCommandLineOrExit(
    "echo server",
    usage,
    { port: DEFAULT_ECHO_PORT, hostname: DEFAULT_ECHO_HOSTNAME },
  );
  const worker = workerNumber();
  if (workers !== undefined && worker === undefined) {
    await superviseWorkers({
      count: workers,
      script: new URL(import.meta.url),
      permissions: [
        "--unstable-net",
        "--allow-net",
        `--allow-read=${STATIC_DIR.pathname}`,
        "--allow-env=PORT,HOST,RFC6455_WORKER",
      ],
      args: rest,
    });
    return;
  }
  const label = worker === undefined ? "" : `worker ${worker}: `;
  const server = await startOrExit(
    "echo server",
    settings,
    () =>
      startEchoServer({
        ...settings,
        reusePort: worker !== undefined,
        log: (line) => console.log(label + line),
      }),
  );
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  let stopping = false;
  const stop = (): void => {
    if (stopping) {
      // Shutdown is bounded by the server's shutdownTimeout; a second
      // signal means the operator does not want to wait for it.
      console.log("second signal: exiting without waiting");
      Deno.exit(130);
    }
    stopping = true;
    console.log(
      "shutting down: closing every socket with 1001 (signal again to exit now)",
    );
    void server.shutdown();
  };
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await server.finished;
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  console.log("echo server stopped");
}

if (import.meta.main) await main();
