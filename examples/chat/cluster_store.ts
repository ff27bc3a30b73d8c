/**
 * The chat's state in Redis, shared by every chat process given the same
 * `REDIS_URL` (see "Several processes" in `chat/PROTOCOL.md`):
 *
 * - presence: per room, a sorted set of lowercase usernames scored by when
 *   they expire, and a hash from each to its holder (`{ u: spelling,
 *   t: resume token, n: process id, c: connection id }`). A process renews
 *   its members every third of the time to live, so the members of a
 *   crashed process disappear once it passes. Claims, takeovers and
 *   releases are Lua scripts, so usernames stay unique across processes.
 * - history: per room, a Redis Stream of the room's last messages and
 *   notices (`XADD ... MAXLEN`), each appended and published to the room's
 *   channel by one script, so every process sees the room's messages in
 *   the stream's order, ids included.
 * - a channel per process, on which other processes ask it to close a
 *   connection whose session was resumed elsewhere.
 *
 * Two connections: commands, and one in subscriber mode. Both reconnect
 * with backoff; the loss and the recovery are logged once each, and the
 * caller is told when the subscriber is back so that it can catch up from
 * the streams.
 *
 * @module
 */

import { createClient } from "@redis/client";

/** Messages and notices each room's history keeps: 100. */
export const CHAT_HISTORY_SIZE = 100;
/** How long a member stays listed without its process renewing it: 15 s. */
export const CHAT_PRESENCE_TTL_MS = 15_000;
/** Attempts to reach Redis at start before giving up: 5 (about 1.5 s). */
const CONNECT_ATTEMPTS = 5;
const RECONNECT_MIN_DELAY_MS = 50;
const RECONNECT_MAX_DELAY_MS = 2_000;

/** One entry of a room's history: its id and its JSON (without the id). */
export interface LogEntry {
  /** The stream id, like `1764115200000-0`. */
  id: string;
  /** The message's JSON text, without `id`. */
  json: string;
}

/** Who holds a name, as stored in Redis. */
export interface Holder {
  /** The username as spelled by its first holder. */
  u: string;
  /** The resume token. */
  t: string;
  /** The process id of the holding connection. */
  n: string;
  /** The holding connection's id. */
  c: string;
}

/**
 * Compares two stream ids (`ms-seq`) numerically.
 *
 * @returns negative, zero or positive as `a` is before, equal to or after `b`
 */
export function compareIds(a: string, b: string): number {
  const dashA = a.indexOf("-");
  const dashB = b.indexOf("-");
  const msA = BigInt(a.slice(0, dashA));
  const msB = BigInt(b.slice(0, dashB));
  if (msA !== msB) return msA < msB ? -1 : 1;
  const seqA = BigInt(a.slice(dashA + 1));
  const seqB = BigInt(b.slice(dashB + 1));
  return seqA === seqB ? 0 : seqA < seqB ? -1 : 1;
}

// KEYS: members zset, holders hash. ARGV: name, holder JSON, ttl ms.
// Drops expired members, then claims the name or returns its holder.
const CLAIM = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, name in ipairs(expired) do redis.call('HDEL', KEYS[2], name) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then return held end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return false
`;

// KEYS: members zset, holders hash. ARGV: name, expected holder JSON, new
// holder JSON, ttl ms. Replaces the holder only if it is still `expected`.
const TAKE_OVER = `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
return 1
`;

// KEYS: members zset, holders hash. ARGV: name, connection id. Removes the
// name only if that connection still holds it.
const RELEASE = `
local held = redis.call('HGET', KEYS[2], ARGV[1])
if not held or cjson.decode(held).c ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`;

// KEYS: members zset, holders hash. The holders of every unexpired name.
const MEMBERS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local names = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
if #names == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(names))
`;

// KEYS: members zset. ARGV: ttl ms, then names. Renews the names that are
// still there.
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
end
return 0
`;

// KEYS: history stream. ARGV: max length, JSON, channel. Appends and
// publishes "id json" in one step, so the channel's order is the stream's.
const APPEND = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'm', ARGV[2])
redis.call('PUBLISH', ARGV[3], id .. ' ' .. ARGV[2])
return id
`;

function reconnectDelay(retries: number): number {
  const base = Math.min(
    RECONNECT_MAX_DELAY_MS,
    RECONNECT_MIN_DELAY_MS * 2 ** Math.min(retries, 16),
  );
  return Math.round(base * (1 + Math.random() * 0.2));
}

function newClient(
  url: string,
  reconnectStrategy: (retries: number, cause: Error) => number | Error,
) {
  return createClient({ url, socket: { reconnectStrategy } });
}

type RedisClient = ReturnType<typeof newClient>;

/** A failure to reach Redis when the chat starts. */
export class RedisUnavailableError extends Error {
  /**
   * @param url where Redis was looked for
   * @param cause what connecting said
   */
  constructor(url: string, cause: unknown) {
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    super(`cannot reach Redis at ${url}${detail}`, { cause });
    this.name = "RedisUnavailableError";
  }
}

function entriesOf(
  reply: Array<{ id: string; message: Record<string, string> }>,
): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const { id, message } of reply) entries.push({ id, json: message.m });
  return entries;
}

/** Options of {@linkcode ClusterStore.connect}. */
export interface ClusterStoreOptions {
  /** `redis://host:port`. */
  url: string;
  /** Where the once-per-outage lines go. */
  log: (line: string) => void;
  /** Put before every key and channel; default `"chat:"`. */
  prefix?: string;
  /** Members' time to live in milliseconds; default
   * {@linkcode CHAT_PRESENCE_TTL_MS}. */
  presenceTtl?: number;
  /** Entries kept per room; default {@linkcode CHAT_HISTORY_SIZE}. */
  historySize?: number;
}

/** The chat's Redis commands and subscriptions. */
export class ClusterStore {
  /** This process's id. */
  readonly nodeId: string = crypto.randomUUID();
  /** Members' time to live, in milliseconds. */
  readonly presenceTtl: number;
  /** Entries kept per room. */
  readonly historySize: number;
  readonly #commands: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #prefix: string;
  readonly #log: (line: string) => void;
  readonly #url: string;
  #lost = new Set<string>();
  #reported = false;
  #closed = false;
  /** Called when the subscriber is lost (hold live entries from then on). */
  onSubscriberLost: () => void = () => {};
  /** Called when the subscriber is back after a loss, its subscriptions in
   * place again (catch up then). */
  onResubscribed: () => void = () => {};

  private constructor(
    commands: RedisClient,
    subscriber: RedisClient,
    options: ClusterStoreOptions,
  ) {
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#prefix = options.prefix ?? "chat:";
    this.#log = options.log;
    this.#url = options.url;
    this.presenceTtl = options.presenceTtl ?? CHAT_PRESENCE_TTL_MS;
    this.historySize = options.historySize ?? CHAT_HISTORY_SIZE;
    this.#watch(commands, "commands");
    this.#watch(subscriber, "subscriber");
  }

  /**
   * Connects both connections.
   *
   * @throws {RedisUnavailableError} when Redis cannot be reached
   */
  static async connect(options: ClusterStoreOptions): Promise<ClusterStore> {
    let connected = false;
    const strategy = (retries: number, cause: Error): number | Error =>
      !connected && retries >= CONNECT_ATTEMPTS - 1
        ? cause
        : reconnectDelay(retries);
    const commands = newClient(options.url, strategy);
    const subscriber = newClient(options.url, strategy);
    commands.on("error", () => {});
    subscriber.on("error", () => {});
    try {
      await commands.connect();
      await subscriber.connect();
    } catch (error) {
      for (const client of [commands, subscriber]) {
        try {
          client.destroy();
        } catch {
          // Closed when connecting gave up.
        }
      }
      throw new RedisUnavailableError(options.url, error);
    }
    connected = true;
    return new ClusterStore(commands, subscriber, options);
  }

  #watch(client: RedisClient, name: string): void {
    client.on("error", (error: Error) => {
      if (!this.#lost.has(name)) {
        this.#lost.add(name);
        if (name === "subscriber" && !this.#closed) this.onSubscriberLost();
      }
      if (this.#reported || this.#closed) return;
      this.#reported = true;
      this.#log(
        `lost Redis at ${this.#url} (${error.message}); reconnecting with backoff`,
      );
    });
    client.on("ready", () => {
      if (!this.#lost.delete(name)) return;
      if (name === "subscriber") this.onResubscribed();
      if (this.#lost.size > 0 || !this.#reported) return;
      this.#reported = false;
      this.#log(`reconnected to Redis at ${this.#url}; catching up`);
    });
  }

  #members(room: string): string[] {
    return [
      `${this.#prefix}room:${room}:members`,
      `${this.#prefix}room:${room}:holders`,
    ];
  }

  #stream(room: string): string {
    return `${this.#prefix}room:${room}:history`;
  }

  #roomChannel(room: string): string {
    return `${this.#prefix}room:${room}:live`;
  }

  #nodeChannel(nodeId: string): string {
    return `${this.#prefix}node:${nodeId}`;
  }

  /**
   * Claims `name` in `room` for `holder`.
   *
   * @returns null when claimed, or the current holder's JSON
   */
  async claim(
    room: string,
    name: string,
    holder: Holder,
  ): Promise<string | null> {
    const reply = await this.#commands.eval(CLAIM, {
      keys: this.#members(room),
      arguments: [name, JSON.stringify(holder), String(this.presenceTtl)],
    });
    return typeof reply === "string" ? reply : null;
  }

  /**
   * Gives `name` to `holder` if `expected` (JSON) still holds it.
   *
   * @returns whether it did
   */
  async takeOver(
    room: string,
    name: string,
    expected: string,
    holder: Holder,
  ): Promise<boolean> {
    const reply = await this.#commands.eval(TAKE_OVER, {
      keys: this.#members(room),
      arguments: [
        name,
        expected,
        JSON.stringify(holder),
        String(this.presenceTtl),
      ],
    });
    return reply === 1;
  }

  /** Frees `name` if connection `connectionId` holds it. */
  async release(
    room: string,
    name: string,
    connectionId: string,
  ): Promise<void> {
    await this.#commands.eval(RELEASE, {
      keys: this.#members(room),
      arguments: [name, connectionId],
    });
  }

  /** The spellings of the room's current members, sorted without case. */
  async members(room: string): Promise<string[]> {
    const reply = await this.#commands.eval(MEMBERS, {
      keys: this.#members(room),
    }) as Array<string | null>;
    const holders: Holder[] = [];
    for (const json of reply) {
      if (json !== null) holders.push(JSON.parse(json) as Holder);
    }
    holders.sort((a, b) =>
      a.u.toLowerCase() < b.u.toLowerCase()
        ? -1
        : a.u.toLowerCase() > b.u.toLowerCase()
        ? 1
        : 0
    );
    return holders.map((holder) => holder.u);
  }

  /** Renews the listed names of `room`. */
  async renew(room: string, names: string[]): Promise<void> {
    if (names.length === 0) return;
    await this.#commands.eval(RENEW, {
      keys: [this.#members(room)[0]],
      arguments: [String(this.presenceTtl), ...names],
    });
  }

  /**
   * Appends a message (JSON without `id`) to the room's history and
   * publishes it to every process.
   *
   * @returns its id
   */
  async append(room: string, json: string): Promise<string> {
    return await this.#commands.eval(APPEND, {
      keys: [this.#stream(room)],
      arguments: [String(this.historySize), json, this.#roomChannel(room)],
    }) as string;
  }

  /** The room's last `count` entries, oldest first. */
  async recent(room: string, count: number): Promise<LogEntry[]> {
    const reply = await this.#commands.xRevRange(
      this.#stream(room),
      "+",
      "-",
      { COUNT: count },
    );
    return entriesOf(reply).reverse();
  }

  /** The room's entries from `id` on (inclusive), oldest first. */
  async from(room: string, id: string): Promise<LogEntry[]> {
    return entriesOf(await this.#commands.xRange(this.#stream(room), id, "+"));
  }

  /** The room's entries after `id`, oldest first. */
  async after(room: string, id: string): Promise<LogEntry[]> {
    return entriesOf(
      await this.#commands.xRange(this.#stream(room), `(${id}`, "+"),
    );
  }

  /** The id of the room's last entry, or `0-0` for an empty history. */
  async lastId(room: string): Promise<string> {
    const last = await this.recent(room, 1);
    return last.length === 0 ? "0-0" : last[0].id;
  }

  /**
   * Delivers what is published to `room` to `received` (id and JSON);
   * resolves once subscribed.
   */
  async subscribeRoom(
    room: string,
    received: (entry: LogEntry) => void,
  ): Promise<void> {
    await this.#subscriber.subscribe(this.#roomChannel(room), (message) => {
      const space = message.indexOf(" ");
      received({ id: message.slice(0, space), json: message.slice(space + 1) });
    });
  }

  /** Stops delivering `room`. */
  async unsubscribeRoom(room: string): Promise<void> {
    if (this.#closed) return;
    await this.#subscriber.unsubscribe(this.#roomChannel(room));
  }

  /** Delivers requests to close this process's connections. */
  async listen(closeConnection: (connectionId: string) => void): Promise<void> {
    await this.#subscriber.subscribe(
      this.#nodeChannel(this.nodeId),
      (connectionId) => closeConnection(connectionId),
    );
  }

  /** Asks process `nodeId` to close connection `connectionId`. */
  async closeRemote(nodeId: string, connectionId: string): Promise<void> {
    await this.#commands.publish(this.#nodeChannel(nodeId), connectionId);
  }

  /** Resolves once every subscription asked for so far is in place. */
  async subscribed(): Promise<void> {
    await this.#subscriber.ping();
  }

  /** Disconnects; commands sent so far are completed first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([
      this.#subscriber.close(),
      this.#commands.close(),
    ]);
  }
}
