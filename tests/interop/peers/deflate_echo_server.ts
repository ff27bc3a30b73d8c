/**
 * This library's echo server with permessage-deflate turned on, for the
 * compression interop suite, behind a {@linkcode startWireProxy} so the
 * test sees what crossed the wire. Conventions (beyond echoing every
 * message with its type):
 *
 * - the query of the upgrade request picks the options: `deflate=off`
 *   turns compression off, `threshold=<n>` sets the compression threshold,
 *   `bits=<n>` bounds both windows to 2^n bytes, `max=<n>` the socket's
 *   `maxMessageSize` (see {@linkcode deflateSetupFor});
 * - the text `extensions?` is not echoed: the server answers
 *   `extensions:<socket.extensions>`;
 * - the server records each socket's `extensions` and how it closed, by
 *   request-target.
 *
 * @module
 */

import { serve, upgradeWebSocket } from "../../../mod.ts";
import { perMessageDeflate } from "../../../deflate.ts";
import type { PerMessageDeflateSetup } from "../../../deflate/extension.ts";
import { withDeadline } from "./bounded.ts";
import { startWireProxy, type WireRecord } from "./deflate_wire_proxy.ts";

/** What the server saw of one connection. */
export interface ServerSide {
  /** `socket.extensions` once open. */
  extensions: string;
  /** The close event's code, once closed. */
  closeCode?: number;
  /** Messages received (after inflation). */
  messages: number;
}

/** A running compression echo server and its proxy. */
export interface DeflateEchoServer {
  /** The proxy's base URL (`ws://127.0.0.1:<port>`); peers connect here. */
  url: string;
  /** The server's own base URL, without the proxy. */
  directUrl: string;
  /** The server's port. */
  port: number;
  /** What crossed the wire, by request-target. */
  wire: Map<string, WireRecord>;
  /** What the server saw, by request-target. */
  server: Map<string, ServerSide>;
  /** Stops both. */
  close(): Promise<void>;
}

/** Reads a non-negative integer query parameter, or undefined. */
function integerParam(
  params: URLSearchParams,
  name: string,
): number | undefined {
  const value = params.get(name);
  if (value === null) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) {
    throw new RangeError(`${name} must be a non-negative integer`);
  }
  return number;
}

/**
 * The compression a request's query asks for: none with `deflate=off`;
 * else the default preset, or with `bits=<n>` both windows bounded to n
 * bits (a dedicated compressor per connection), and `threshold=<n>`.
 *
 * @param params the upgrade request's query
 * @returns the setup, or false
 */
export function deflateSetupFor(
  params: URLSearchParams,
): PerMessageDeflateSetup | false {
  if (params.get("deflate") === "off") return false;
  const threshold = integerParam(params, "threshold");
  const bits = integerParam(params, "bits");
  if (bits === undefined) return perMessageDeflate({ threshold });
  return perMessageDeflate({
    preset: "dedicated-256k",
    serverMaxWindowBits: bits,
    clientMaxWindowBits: bits,
    threshold,
  });
}

/**
 * Starts the server and its proxy on 127.0.0.1, port 0.
 *
 * @returns the running pair
 */
export function startDeflateEchoServer(): Promise<DeflateEchoServer> {
  const sides = new Map<string, ServerSide>();
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const url = new URL(request.url);
      if (url.pathname !== "/") {
        return new Response("refused by the test server", { status: 403 });
      }
      const { socket, response } = upgradeWebSocket(request, {
        perMessageDeflate: deflateSetupFor(url.searchParams),
        maxMessageSize: integerParam(url.searchParams, "max"),
      });
      const side: ServerSide = { extensions: "", messages: 0 };
      sides.set(url.pathname + url.search, side);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => side.extensions = socket.extensions;
      socket.onerror = () => {};
      socket.onclose = (event) => side.closeCode = event.code;
      socket.onmessage = (event) => {
        side.messages++;
        if (event.data === "extensions?") {
          socket.send(`extensions:${socket.extensions}`);
          return;
        }
        socket.send(event.data);
      };
      return response;
    },
  );
  const proxy = startWireProxy(server.addr.port);
  return Promise.resolve({
    url: proxy.url,
    directUrl: `ws://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    wire: proxy.records,
    server: sides,
    async close(): Promise<void> {
      await withDeadline(
        Promise.all([server.shutdown(), proxy.close()]),
        15_000,
        "server shutdown",
      );
    },
  });
}
