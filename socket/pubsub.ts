/**
 * Publish/subscribe for server sockets, as in Bun and uWebSockets: a socket
 * subscribes to named topics, and a message published to a topic goes to
 * every socket subscribed to it.
 *
 * A published message is framed once: the same bytes (one unmasked frame,
 * as a server sends) are queued to every subscriber, so fan-out to N
 * sockets costs one encoding, not N. Each subscriber's queue still obeys its
 * own `maxQueuedBytes`: a subscriber that does not read fast enough is
 * failed with 1008 exactly as `send()` would fail it, and the others are
 * unaffected. Sockets that are not OPEN are skipped.
 *
 * Every `serve()` has one {@linkcode TopicRegistry}; its sockets reach it
 * through `socket.subscribe()`, `socket.publish()` and `server.publish()`.
 *
 * @module
 */

import { encodeFrame, Opcode } from "../frame/encoder.ts";
import { toSendItem } from "./send_queue.ts";
import { queueEncodedFrame, type WebSocketConnection } from "./websocket.ts";

/** What may be published: text, or bytes (copied when published). */
export type PublishData = string | ArrayBufferLike | ArrayBufferView;

const textEncoder = new TextEncoder();

/**
 * Frames a published message once: a text frame for a string, a binary
 * frame for bytes, unmasked (server to client), FIN set.
 *
 * @param data the message
 * @returns the encoded frame
 * @throws {TypeError} for a Blob (it would have to be read first)
 */
export function encodePublished(data: PublishData): Uint8Array {
  const item = toSendItem(data);
  if (item.kind === "text") {
    return encodeFrame(Opcode.Text, textEncoder.encode(item.data));
  }
  if (item.kind === "binary") return encodeFrame(Opcode.Binary, item.data);
  throw new TypeError("a Blob cannot be published; publish its bytes");
}

function checkTopic(topic: string): void {
  if (typeof topic !== "string") {
    throw new TypeError(`a topic is a string, got ${typeof topic}`);
  }
}

/**
 * The topics of one server and the sockets subscribed to each. A topic
 * exists while it has subscribers; a socket's subscriptions are dropped
 * when it closes.
 *
 * @example
 * ```ts ignore
 * const topics = new TopicRegistry();
 * topics.subscribe(socket, "news");
 * topics.publish("news", "hello"); // 1: queued to one socket
 * ```
 */
export class TopicRegistry {
  readonly #subscribers = new Map<string, Set<WebSocketConnection>>();
  readonly #topicsOf = new Map<WebSocketConnection, Set<string>>();

  /** How many topics have at least one subscriber. */
  get topicCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Subscribes `socket` to `topic`. Does nothing for a closed socket (its
   * subscriptions were dropped already) or one already subscribed.
   *
   * @param socket the subscriber
   * @param topic any string
   * @returns true when the socket was not subscribed before
   */
  subscribe(socket: WebSocketConnection, topic: string): boolean {
    checkTopic(topic);
    if (socket.readyState === socket.CLOSED) return false;
    let sockets = this.#subscribers.get(topic);
    if (sockets === undefined) {
      sockets = new Set();
      this.#subscribers.set(topic, sockets);
    }
    if (sockets.has(socket)) return false;
    sockets.add(socket);
    let topics = this.#topicsOf.get(socket);
    if (topics === undefined) {
      topics = new Set();
      this.#topicsOf.set(socket, topics);
    }
    topics.add(topic);
    return true;
  }

  /**
   * Unsubscribes `socket` from `topic`; a topic left without subscribers is
   * removed.
   *
   * @param socket the subscriber
   * @param topic the topic
   * @returns true when the socket was subscribed
   */
  unsubscribe(socket: WebSocketConnection, topic: string): boolean {
    checkTopic(topic);
    const topics = this.#topicsOf.get(socket);
    if (topics === undefined || !topics.delete(topic)) return false;
    if (topics.size === 0) this.#topicsOf.delete(socket);
    this.#removeSubscriber(topic, socket);
    return true;
  }

  /**
   * Unsubscribes `socket` from every topic (the socket calls this when it
   * closes).
   *
   * @param socket the subscriber
   */
  unsubscribeAll(socket: WebSocketConnection): void {
    const topics = this.#topicsOf.get(socket);
    if (topics === undefined) return;
    this.#topicsOf.delete(socket);
    for (const topic of topics) this.#removeSubscriber(topic, socket);
  }

  /**
   * Whether `socket` is subscribed to `topic`.
   *
   * @param socket the socket
   * @param topic the topic
   * @returns true when subscribed
   */
  isSubscribed(socket: WebSocketConnection, topic: string): boolean {
    return this.#topicsOf.get(socket)?.has(topic) ?? false;
  }

  /**
   * The topics `socket` is subscribed to, in subscription order.
   *
   * @param socket the socket
   * @returns a new array
   */
  subscriptionsOf(socket: WebSocketConnection): string[] {
    return [...(this.#topicsOf.get(socket) ?? [])];
  }

  /**
   * How many sockets are subscribed to `topic` (open or not).
   *
   * @param topic the topic
   * @returns the count; 0 for a topic nobody subscribed to
   */
  subscriberCount(topic: string): number {
    return this.#subscribers.get(topic)?.size ?? 0;
  }

  /**
   * Queues one message to every OPEN socket subscribed to `topic`, except
   * `exclude`. The message is framed once and the same bytes are queued to
   * each; a subscriber whose queue passes its `maxQueuedBytes` is failed
   * with 1008 (as `send()` would) and not counted.
   *
   * @param topic the topic
   * @param data text or bytes; bytes are copied
   * @param exclude a socket that must not receive it (the publisher)
   * @returns how many sockets the message was queued to
   * @throws {TypeError} for a Blob
   */
  publish(
    topic: string,
    data: PublishData,
    exclude?: WebSocketConnection,
  ): number {
    checkTopic(topic);
    const sockets = this.#subscribers.get(topic);
    if (sockets === undefined) return 0;
    let frame: Uint8Array | null = null;
    let queued = 0;
    // Deleting from a Set while iterating it is safe: a socket that closes
    // during the loop (and unsubscribes) is simply not visited.
    for (const socket of sockets) {
      if (socket === exclude || socket.readyState !== socket.OPEN) continue;
      frame ??= encodePublished(data);
      if (queueEncodedFrame(socket, frame)) queued++;
    }
    return queued;
  }

  #removeSubscriber(topic: string, socket: WebSocketConnection): void {
    const sockets = this.#subscribers.get(topic);
    if (sockets === undefined) return;
    sockets.delete(socket);
    if (sockets.size === 0) this.#subscribers.delete(topic);
  }
}

const requestRegistries = new WeakMap<Request, TopicRegistry>();

/**
 * Records which server's registry a request belongs to, so that
 * `upgradeWebSocket` can give the socket it creates that registry.
 * `serve()` calls this before the handler runs.
 *
 * @param request a request received by `serve()`
 * @param registry that server's topics
 */
export function bindRequestTopics(
  request: Request,
  registry: TopicRegistry,
): void {
  requestRegistries.set(request, registry);
}

/**
 * The registry recorded by {@linkcode bindRequestTopics}.
 *
 * @param request the request being upgraded
 * @returns the server's topics, or undefined
 */
export function requestTopics(request: Request): TopicRegistry | undefined {
  return requestRegistries.get(request);
}
