/**
 * Pub/sub across processes and machines through Redis: give a
 * {@linkcode RedisBroker} to `serve({ broker })` (or `serveNodeNet`) in
 * every process, and `server.publish` and `socket.publish` reach the
 * subscribers of all of them, framed once per process. This is the only
 * entry with a dependency (the npm `@redis/client`); the others stay free
 * of it, and a server without a broker imports nothing from here.
 *
 * Several processes on one machine can share a port with
 * `serve({ reusePort: true })` (Linux).
 *
 * @example Two servers, one topic
 * ```ts ignore
 * import { serve, upgradeWebSocket } from "@rfc6455/websocket";
 * import { RedisBroker } from "@rfc6455/websocket/redis";
 *
 * const broker = await RedisBroker.connect({
 *   url: Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379",
 * });
 * serve({ port: 8080, reusePort: true, broker }, (request) => {
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onopen = () => socket.subscribe("news");
 *   socket.onmessage = (event) => socket.publish("news", event.data);
 *   return response;
 * });
 * ```
 *
 * @module
 */

export { RedisBroker, type RedisBrokerOptions } from "./redis/broker.ts";
export type { Broker, BrokerData, BrokerDelivery } from "./socket/broker.ts";
export { BrokerError, type BrokerErrorPhase } from "./errors.ts";
