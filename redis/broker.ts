/**
 * `RedisBroker`: the server's pub/sub across processes, through Redis
 * PUBLISH/SUBSCRIBE, on the npm `@redis/client` (node-redis; chosen over
 * ioredis by measurement, see docs/PERFORMANCE.md).
 *
 * Each topic is the Redis channel `prefix + topic` (any characters: Redis
 * channels are binary-safe and the topic is sent as UTF-8). A message on
 * the channel is this process's id (16 bytes), a kind byte (`t` text, `b`
 * binary) and the payload, so binary and text arrive as they were sent and
 * a process drops its own publications (its subscribers had them already).
 *
 * Two connections: one for PUBLISH, one in subscriber mode. Both reconnect
 * with exponential backoff and jitter when Redis goes away; the loss and
 * the recovery are each reported once, the client resubscribes every
 * topic, and publications made meanwhile wait in the client's queue (up to
 * `DEFAULTS.broker.maxPendingCommands`). Redis pub/sub delivers at most
 * once: what is published while a subscriber is disconnected is not
 * delivered to it. Keep a history (a Redis Stream, as the chat example
 * does) where that matters.
 *
 * @module
 */

import { createClient } from "@redis/client";
import type { Broker, BrokerData, BrokerDelivery } from "../socket/broker.ts";
import { BrokerError } from "../errors.ts";
import { DEFAULTS } from "../defaults.ts";

/** A node-redis client with the broker's settings. */
function newClient(
  url: string,
  reconnectStrategy: (retries: number, cause: Error) => number | Error,
) {
  return createClient({
    url,
    commandsQueueMaxLength: DEFAULTS.broker.maxPendingCommands,
    socket: { reconnectStrategy },
  });
}

type RedisClient = ReturnType<typeof newClient>;

/** Options of {@linkcode RedisBroker.connect}. */
export interface RedisBrokerOptions {
  /** Where Redis is: `redis://host:port` (also `redis://user:pass@host:port/db`,
   * `rediss://` for TLS). */
  url: string;
  /** Put before every topic to form its Redis channel; default
   * `"rfc6455:"`. Processes that should share topics use the same one. */
  channelPrefix?: string;
  /**
   * Told about connection losses and recoveries (once each), failed
   * publications and subscriptions, each as a `BrokerError`. Default: one
   * line on `console.error` per report.
   */
  onError?: (error: BrokerError) => void;
  /** Attempts to reach Redis before `connect` gives up; default
   * `DEFAULTS.broker.connectAttempts`. */
  connectAttempts?: number;
}

const ORIGIN_BYTES = 16;
const TEXT_KIND = 0x74; // "t"
const BINARY_KIND = 0x62; // "b"

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** A random process id: 16 lowercase hex characters. */
function newOriginId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(ORIGIN_BYTES / 2));
  let id = "";
  for (const byte of bytes) id += byte.toString(16).padStart(2, "0");
  return id;
}

function defaultReport(error: BrokerError): void {
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  console.error(`rfc6455 broker: ${error.message}${cause}`);
}

/** Backoff for reconnecting: doubles from the minimum up to the maximum,
 * plus up to 20% jitter so that processes do not retry in step. */
function reconnectDelay(retries: number): number {
  const { reconnectMinDelay, reconnectMaxDelay } = DEFAULTS.broker;
  const base = Math.min(
    reconnectMaxDelay,
    reconnectMinDelay * 2 ** Math.min(retries, 16),
  );
  return Math.round(base * (1 + Math.random() * 0.2));
}

/** What the broker's two connections have in common: their state and the
 * once-per-outage reports. */
class ConnectionWatch {
  readonly #report: (error: BrokerError) => void;
  readonly #url: string;
  #lost = false;
  #down = new Set<string>();

  constructor(url: string, report: (error: BrokerError) => void) {
    this.#url = url;
    this.#report = report;
  }

  watch(client: RedisClient, name: string): void {
    client.on("error", (error: unknown) => this.#lose(name, error));
    client.on("ready", () => this.#restore(name));
  }

  #lose(name: string, error: unknown): void {
    this.#down.add(name);
    if (this.#lost) return;
    this.#lost = true;
    this.#report(
      new BrokerError(
        "connection",
        `lost Redis at ${this.#url}, reconnecting with backoff`,
        error,
      ),
    );
  }

  #restore(name: string): void {
    this.#down.delete(name);
    if (!this.#lost || this.#down.size > 0) return;
    this.#lost = false;
    this.#report(
      new BrokerError(
        "connection",
        `reconnected to Redis at ${this.#url}; topics resubscribed`,
      ),
    );
  }

  /** Whether a failure report would repeat the outage already reported. */
  get lost(): boolean {
    return this.#lost;
  }
}

/**
 * A {@linkcode Broker} on Redis pub/sub: give it to `serve({ broker })` in
 * every process, and `publish` reaches the subscribers of all of them.
 *
 * @example
 * ```ts ignore
 * import { RedisBroker } from "@rfc6455/websocket/redis";
 * import { serve } from "@rfc6455/websocket";
 *
 * const broker = await RedisBroker.connect({ url: "redis://127.0.0.1:6379" });
 * const server = serve({ port: 8080, reusePort: true, broker }, handler);
 * // ... at the end:
 * await server.shutdown();
 * await broker.close();
 * ```
 */
export class RedisBroker implements Broker {
  /** This process's id in the messages it publishes. */
  readonly originId: string;
  readonly #publisher: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #prefix: string;
  readonly #origin: Uint8Array;
  readonly #report: (error: BrokerError) => void;
  readonly #watch: ConnectionWatch;
  /** Topics subscribed at Redis, each with its listener. */
  readonly #topics = new Map<
    string,
    (message: Buffer, channel: Buffer) => void
  >();
  #deliver: BrokerDelivery | null = null;
  #closed = false;
  #publishFailing = false;

  private constructor(
    publisher: RedisClient,
    subscriber: RedisClient,
    prefix: string,
    report: (error: BrokerError) => void,
    watch: ConnectionWatch,
  ) {
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#prefix = prefix;
    this.#report = report;
    this.#watch = watch;
    this.originId = newOriginId();
    this.#origin = textEncoder.encode(this.originId);
  }

  /**
   * Connects both connections to Redis.
   *
   * @param options where Redis is, the channel prefix, where reports go
   * @returns the broker, ready to be given to `serve`
   * @throws {BrokerError} (phase `connect`) when Redis cannot be reached in
   * `connectAttempts` attempts
   */
  static async connect(options: RedisBrokerOptions): Promise<RedisBroker> {
    const report = options.onError ?? defaultReport;
    const attempts = options.connectAttempts ??
      DEFAULTS.broker.connectAttempts;
    const watch = new ConnectionWatch(options.url, report);
    let everReady = false;
    const strategy = (retries: number, cause: Error): number | Error => {
      if (!everReady && retries >= attempts - 1) return cause;
      return reconnectDelay(retries);
    };
    const publisher = newClient(options.url, strategy);
    // Until connected, failures reject connect() instead of being reported.
    publisher.on("error", () => {});
    try {
      await publisher.connect();
    } catch (error) {
      discard(publisher);
      throw new BrokerError(
        "connect",
        `cannot reach Redis at ${options.url}`,
        error,
      );
    }
    const subscriber = newClient(options.url, strategy);
    subscriber.on("error", () => {});
    try {
      await subscriber.connect();
    } catch (error) {
      discard(publisher);
      discard(subscriber);
      throw new BrokerError(
        "connect",
        `cannot reach Redis at ${options.url}`,
        error,
      );
    }
    everReady = true;
    watch.watch(publisher, "publisher");
    watch.watch(subscriber, "subscriber");
    return new RedisBroker(
      publisher,
      subscriber,
      options.channelPrefix ?? "rfc6455:",
      report,
      watch,
    );
  }

  attach(deliver: BrokerDelivery): void {
    if (this.#deliver !== null) {
      throw new TypeError("RedisBroker: a server is attached already");
    }
    this.#deliver = deliver;
  }

  detach(): void {
    this.#deliver = null;
    for (const topic of [...this.#topics.keys()]) this.unsubscribe(topic);
  }

  /** How many topics are subscribed at Redis. */
  get topicCount(): number {
    return this.#topics.size;
  }

  subscribe(topic: string): void {
    if (this.#closed || this.#topics.has(topic)) return;
    const listener = (message: Buffer) => this.#received(topic, message);
    this.#topics.set(topic, listener);
    this.#subscriber.subscribe(this.#prefix + topic, listener, true).catch(
      (error: unknown) => this.#failed("subscribe", topic, error),
    );
  }

  unsubscribe(topic: string): void {
    const listener = this.#topics.get(topic);
    if (this.#closed || listener === undefined) return;
    this.#topics.delete(topic);
    this.#subscriber.unsubscribe(this.#prefix + topic, listener, true).catch(
      (error: unknown) => this.#failed("subscribe", topic, error),
    );
  }

  /**
   * Resolves once every subscription asked for so far is in place at
   * Redis: a publication made after that reaches this process.
   */
  async subscribed(): Promise<void> {
    await this.#subscriber.ping();
  }

  publish(topic: string, data: BrokerData): void {
    if (this.#closed) return;
    const text = typeof data === "string";
    const payload = text ? textEncoder.encode(data) : data;
    const message = Buffer.allocUnsafe(ORIGIN_BYTES + 1 + payload.length);
    message.set(this.#origin, 0);
    message[ORIGIN_BYTES] = text ? TEXT_KIND : BINARY_KIND;
    message.set(payload, ORIGIN_BYTES + 1);
    this.#publisher.publish(this.#prefix + topic, message).then(
      () => this.#publishFailing = false,
      (error: unknown) => {
        if (this.#publishFailing) return;
        this.#publishFailing = true;
        this.#failed("publish", topic, error);
      },
    );
  }

  /** Disconnects both connections; what was published is sent first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#deliver = null;
    this.#topics.clear();
    await Promise.allSettled([
      this.#subscriber.close(),
      this.#publisher.close(),
    ]);
  }

  #received(topic: string, message: Buffer): void {
    if (message.length <= ORIGIN_BYTES) {
      this.#report(
        new BrokerError("message", `a message too short on topic ${topic}`),
      );
      return;
    }
    if (isFrom(message, this.#origin)) return;
    const deliver = this.#deliver;
    if (deliver === null) return;
    const kind = message[ORIGIN_BYTES];
    const payload = message.subarray(ORIGIN_BYTES + 1);
    if (kind === TEXT_KIND) deliver(topic, textDecoder.decode(payload));
    else if (kind === BINARY_KIND) deliver(topic, payload);
    else {
      this.#report(
        new BrokerError("message", `an unknown message kind on topic ${topic}`),
      );
    }
  }

  #failed(phase: "publish" | "subscribe", topic: string, error: unknown): void {
    // While the connection is down, the loss was reported already.
    if (this.#watch.lost || this.#closed) return;
    this.#report(
      new BrokerError(phase, `${phase} on topic ${topic} failed`, error),
    );
  }
}

/** Closes a client that may be closed already. */
function discard(client: RedisClient): void {
  try {
    client.destroy();
  } catch {
    // Closed when connecting gave up.
  }
}

function isFrom(message: Uint8Array, origin: Uint8Array): boolean {
  for (let index = 0; index < origin.length; index++) {
    if (message[index] !== origin[index]) return false;
  }
  return true;
}
