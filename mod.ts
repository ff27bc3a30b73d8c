/**
 * rfc6455: a WebSocket implementation in pure TypeScript, correct to the
 * letter of RFC 6455 and RFC 7692, with zero dependencies. This root entry
 * is what a Deno user coming from `Deno.serve` + `Deno.upgradeWebSocket`
 * needs: {@linkcode serve}, {@linkcode upgradeWebSocket},
 * {@linkcode connect}, the socket and the errors.
 *
 * It loads in every runtime: `serve` and `connect` touch `Deno` only when
 * called. The other entries:
 * - `./codec`: everything that does no I/O (frames, the sans-I/O
 *   `Protocol`, the handshake, deflate negotiation and inflation); it
 *   bundles for browsers. `./frame` and `./handshake` are parts of it.
 * - `./server`, `./client`: the Deno server and client on their own.
 * - `./node`: the same server on `node:net`, for Bun and Node (and for Deno
 *   with thousands of busy connections).
 * - `./socket`: the socket over any byte stream, for writing an adapter.
 *
 * @example An echo server
 * ```ts
 * import { serve, upgradeWebSocket } from "@rfc6455/websocket";
 *
 * const server = serve(
 *   { port: 0, hostname: "127.0.0.1", onListen() {} },
 *   (request) => {
 *     if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
 *       return new Response("hi");
 *     }
 *     const { socket, response } = upgradeWebSocket(request);
 *     socket.onmessage = (event) => socket.send(event.data);
 *     return response;
 *   },
 * );
 * await server.shutdown();
 * ```
 *
 * @module
 */

export * from "./server.ts";
export { connect } from "./deno/connect.ts";
export type { ConnectOptions } from "./client/connect.ts";
