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
 * The registry knows its subscribers only as {@linkcode Subscriber}s and
 * queues frames through the function it was built with, so it depends on
 * no socket class.
 *
 * Given a {@linkcode Broker} (`serve({ broker })`), the registry also
 * reaches other processes: a topic's first local subscriber subscribes it
 * at the broker and its last one leaves, every publication is handed to
 * the broker after the local subscribers have it, and what the broker
 * delivers from other processes is queued with {@linkcode
 * TopicRegistry.deliver}, framed once per process.
 *
 * @module
 */

import { encodeFrame } from "../frame/encoder.ts";
import { Opcode } from "../frame/types.ts";
import { ReadyState } from "../protocol/types.ts";
import { toSendItem } from "./send_queue.ts";
import type { Broker, BrokerData } from "./broker.ts";

/** What a {@linkcode TopicRegistry} needs to see of a subscriber. */
export interface Subscriber {
  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  readonly readyState: number;
}

/**
 * Queues one pre-encoded frame to a subscriber, as `send()` would.
 *
 * @returns whether it was queued and the subscriber is still OPEN
 */
export type FrameQueuer<S extends Subscriber> = (
  subscriber: S,
  frame: Uint8Array,
) => boolean;

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
 * const topics = new TopicRegistry(queueEncodedFrame);
 * topics.subscribe(socket, "news");
 * topics.publish("news", "hello"); // 1: queued to one socket
 * ```
 */
export class TopicRegistry<S extends Subscriber = Subscriber> {
  readonly #subscribers = new Map<string, Set<S>>();
  readonly #topicsOf = new Map<S, Set<string>>();
  readonly #queue: FrameQueuer<S>;
  readonly #broker: Broker | undefined;

  /**
   * Creates an empty registry.
   *
   * @param queue queues a published frame to one subscriber
   * @param broker carries publications to and from other processes
   */
  constructor(queue: FrameQueuer<S>, broker?: Broker) {
    this.#queue = queue;
    this.#broker = broker;
  }

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
  subscribe(socket: S, topic: string): boolean {
    checkTopic(topic);
    if (socket.readyState === ReadyState.CLOSED) return false;
    let sockets = this.#subscribers.get(topic);
    if (sockets === undefined) {
      sockets = new Set();
      this.#subscribers.set(topic, sockets);
      this.#broker?.subscribe(topic);
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
  unsubscribe(socket: S, topic: string): boolean {
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
  unsubscribeAll(socket: S): void {
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
  isSubscribed(socket: S, topic: string): boolean {
    return this.#topicsOf.get(socket)?.has(topic) ?? false;
  }

  /**
   * The topics `socket` is subscribed to, in subscription order.
   *
   * @param socket the socket
   * @returns a new array
   */
  subscriptionsOf(socket: S): string[] {
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
   * `exclude`, then hands it to the broker, if any, for the other
   * processes. The message is framed once and the same bytes are queued to
   * each; a subscriber whose queue passes its `maxQueuedBytes` is failed
   * with 1008 (as `send()` would) and not counted.
   *
   * @param topic the topic
   * @param data text or bytes; bytes are copied
   * @param exclude a socket that must not receive it (the publisher)
   * @returns how many sockets of this process the message was queued to
   * @throws {TypeError} for a Blob
   */
  publish(
    topic: string,
    data: PublishData,
    exclude?: S,
  ): number {
    checkTopic(topic);
    const queued = this.#publishLocally(topic, data, exclude);
    if (this.#broker !== undefined) {
      this.#broker.publish(topic, toBrokerData(data));
    }
    return queued;
  }

  /**
   * Queues a publication that came from another process (through the
   * broker) to this process's subscribers of `topic`, framed once; it is
   * not handed back to the broker.
   *
   * @param topic the topic
   * @param data the message
   * @returns how many sockets the message was queued to
   */
  deliver(topic: string, data: BrokerData): number {
    return this.#publishLocally(topic, data, undefined);
  }

  #publishLocally(
    topic: string,
    data: PublishData,
    exclude: S | undefined,
  ): number {
    const sockets = this.#subscribers.get(topic);
    if (sockets === undefined) return 0;
    let frame: Uint8Array | null = null;
    let queued = 0;
    // Deleting from a Set while iterating it is safe: a socket that closes
    // during the loop (and unsubscribes) is simply not visited.
    for (const socket of sockets) {
      if (socket === exclude || socket.readyState !== ReadyState.OPEN) continue;
      frame ??= encodePublished(data);
      if (this.#queue(socket, frame)) queued++;
    }
    return queued;
  }

  #removeSubscriber(topic: string, socket: S): void {
    const sockets = this.#subscribers.get(topic);
    if (sockets === undefined) return;
    sockets.delete(socket);
    if (sockets.size === 0) {
      this.#subscribers.delete(topic);
      this.#broker?.unsubscribe(topic);
    }
  }
}

/** What a broker is given: text as is, bytes as a view (no copy). */
function toBrokerData(data: PublishData): BrokerData {
  const item = toSendItem(data);
  if (item.kind === "text" || item.kind === "binary") return item.data;
  throw new TypeError("a Blob cannot be published; publish its bytes");
}
