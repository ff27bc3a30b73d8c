/**
 * The chat across processes: what a chat server does instead of keeping
 * rooms in memory when it is given `REDIS_URL`. Loaded only then (the
 * single-process chat imports nothing from Redis).
 *
 * Every message and membership notice of a room is appended to the room's
 * history and published by one Redis script (`cluster_store.ts`), and each
 * process delivers the room's entries to its own members in the stream's
 * order, framed once per process (`server.publish`). A process remembers
 * the last id it delivered per room and skips anything not after it, so an
 * entry is delivered once; after Redis comes back it reads the entries it
 * missed from the stream before going on. A joining client receives the
 * room's recent history, or, when it says which message it saw last
 * (`since`), exactly the entries after it.
 *
 * @module
 */

import type { Server } from "../../mod.ts";
import type { WebSocketConnection } from "../../socket/websocket.ts";
import {
  type ChatErrorCode,
  type ChatText,
  type ClientMessage,
  encodeServerMessage,
  type MembershipNotice,
  parseClientMessage,
  SESSION_REPLACED_CLOSE_CODE,
  SESSION_REPLACED_REASON,
  usernameKey,
} from "./protocol.ts";
import {
  ClusterStore,
  type ClusterStoreOptions,
  compareIds,
  type Holder,
  type LogEntry,
} from "./cluster_store.ts";
import { newSessionToken, tokensMatch } from "./session_token.ts";

function roomTopic(room: string): string {
  return `room:${room}`;
}

/** The JSON a client receives for an entry: its JSON with `id` added. */
function withId(entry: LogEntry): string {
  return `{"id":${JSON.stringify(entry.id)},${entry.json.slice(1)}`;
}

/** One room as this process delivers it to its members. */
class RoomFeed {
  /** The last id delivered here; nothing at or before it is delivered. */
  lastId = "0-0";
  /** This process's connections that use the feed. */
  users = 0;
  /** Entries that arrive while catching up, delivered after it. */
  #held: LogEntry[] | null = [];
  readonly #deliver: (json: string) => void;
  readonly #waiters: Array<{ id: string; resolve: () => void }> = [];
  readonly #recorders = new Set<LogEntry[]>();

  constructor(deliver: (json: string) => void) {
    this.#deliver = deliver;
  }

  /** Takes an entry from the room's channel. */
  received(entry: LogEntry): void {
    if (this.#held !== null) this.#held.push(entry);
    else this.#take(entry);
  }

  /** Holds live entries until {@linkcode caughtUp}. */
  catchingUp(): void {
    this.#held ??= [];
  }

  /** Delivers `missed` (read from the stream), then what was held. */
  caughtUp(missed: LogEntry[]): void {
    for (const entry of missed) this.#take(entry);
    const held = this.#held ?? [];
    this.#held = null;
    for (const entry of held) this.#take(entry);
  }

  /** Starts from `lastId` (the stream's end when the feed opens). */
  start(lastId: string): void {
    if (compareIds(lastId, this.lastId) > 0) this.lastId = lastId;
    this.caughtUp([]);
  }

  /** Resolves once the entry `id` (or a later one) was delivered. */
  delivered(id: string): Promise<void> {
    if (compareIds(id, this.lastId) <= 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ id, resolve }));
  }

  /** Records the entries delivered from now on, until `stop` is called. */
  record(): { entries: LogEntry[]; stop: () => void } {
    const entries: LogEntry[] = [];
    this.#recorders.add(entries);
    return { entries, stop: () => this.#recorders.delete(entries) };
  }

  #take(entry: LogEntry): void {
    if (compareIds(entry.id, this.lastId) <= 0) return;
    this.lastId = entry.id;
    for (const recorder of this.#recorders) recorder.push(entry);
    this.#deliver(withId(entry));
    for (let index = this.#waiters.length - 1; index >= 0; index--) {
      const waiter = this.#waiters[index];
      if (compareIds(waiter.id, this.lastId) <= 0) {
        this.#waiters.splice(index, 1);
        waiter.resolve();
      }
    }
  }
}

/** One member held by a connection of this process. */
interface ClusterSession {
  readonly room: string;
  readonly name: string;
  readonly username: string;
  readonly token: string;
}

/** The rooms of every process, seen from this one. */
export class ChatCluster {
  readonly store: ClusterStore;
  readonly #server: () => Server;
  readonly #log: (line: string) => void;
  readonly #feeds = new Map<string, Promise<RoomFeed>>();
  readonly #connections = new Map<string, ClusterConnection>();
  readonly #renewTimer: ReturnType<typeof setInterval>;
  readonly #work = new Set<Promise<void>>();

  private constructor(
    store: ClusterStore,
    server: () => Server,
    log: (line: string) => void,
  ) {
    this.store = store;
    this.#server = server;
    this.#log = log;
    store.onSubscriberLost = () => this.#holdLive();
    store.onResubscribed = () => this.#catchUp();
    this.#renewTimer = setInterval(
      () => this.#renew(),
      Math.max(1, Math.floor(store.presenceTtl / 3)),
    );
  }

  /**
   * Connects to Redis and starts listening for this process's requests.
   *
   * @param options Redis and its settings
   * @param server the chat's server (known once it listens)
   * @param log where lines go
   * @throws {RedisUnavailableError} when Redis cannot be reached
   */
  static async start(
    options: ClusterStoreOptions,
    server: () => Server,
    log: (line: string) => void,
  ): Promise<ChatCluster> {
    const store = await ClusterStore.connect(options);
    const cluster = new ChatCluster(store, server, log);
    await store.listen((id) => cluster.#connections.get(id)?.replaced());
    return cluster;
  }

  /** Wires a new socket to the rooms. */
  accept(socket: WebSocketConnection): void {
    const connection = new ClusterConnection(socket, this, this.#log);
    this.#connections.set(connection.id, connection);
  }

  /** Forgets a closed connection once its last work is done. */
  forget(connection: ClusterConnection, last: Promise<void>): void {
    this.#work.add(last);
    last.finally(() => {
      this.#work.delete(last);
      this.#connections.delete(connection.id);
    });
  }

  /** The local connection with this id, if any. */
  connection(id: string): ClusterConnection | undefined {
    return this.#connections.get(id);
  }

  /** This process's members, by room (for `ChatServer.rooms()`). */
  localRooms(): Map<string, string[]> {
    const rooms = new Map<string, string[]>();
    for (const connection of this.#connections.values()) {
      const session = connection.session;
      if (session === null) continue;
      const names = rooms.get(session.room) ?? [];
      names.push(session.username);
      rooms.set(session.room, names);
    }
    for (const names of rooms.values()) {
      names.sort((a, b) => a.toLowerCase() < b.toLowerCase() ? -1 : 1);
    }
    return rooms;
  }

  /** The room's feed, subscribed and started; counts one more user. */
  async openFeed(room: string): Promise<RoomFeed> {
    let opening = this.#feeds.get(room);
    if (opening === undefined) {
      opening = (async () => {
        const feed = new RoomFeed((json) =>
          this.#server().publish(roomTopic(room), json)
        );
        await this.store.subscribeRoom(room, (entry) => feed.received(entry));
        feed.start(await this.store.lastId(room));
        return feed;
      })();
      this.#feeds.set(room, opening);
      opening.catch(() => this.#feeds.delete(room));
    }
    const feed = await opening;
    feed.users++;
    return feed;
  }

  /** The room's feed, if this process has one open. */
  feedOf(room: string): Promise<RoomFeed> | undefined {
    return this.#feeds.get(room);
  }

  /** One user fewer; the last one unsubscribes the room. */
  async closeFeed(room: string): Promise<void> {
    const opening = this.#feeds.get(room);
    if (opening === undefined) return;
    const feed = await opening;
    feed.users--;
    if (feed.users > 0) return;
    this.#feeds.delete(room);
    await this.store.unsubscribeRoom(room);
  }

  /**
   * The subscriber is gone: every feed holds what arrives live from now on
   * until it has read what it missed. Holding only once the subscriber is
   * back would be too late: an entry published right after a subscription
   * is confirmed can arrive before the client says it is ready, and taking
   * it would move the feed past the entries it missed.
   */
  #holdLive(): void {
    for (const opening of this.#feeds.values()) {
      void opening.then((feed) => feed.catchingUp(), () => {});
    }
  }

  /** After Redis came back: every feed reads what it missed. */
  #catchUp(): void {
    for (const [room, opening] of this.#feeds) {
      void opening.then(async (feed) => {
        feed.catchingUp();
        await this.store.subscribed();
        feed.caughtUp(await this.store.after(room, feed.lastId));
      }).catch((error) =>
        this.#log(`catching up ${room} failed: ${(error as Error).message}`)
      );
    }
  }

  #renew(): void {
    const byRoom = new Map<string, string[]>();
    for (const connection of this.#connections.values()) {
      const session = connection.session;
      if (session === null) continue;
      const names = byRoom.get(session.room) ?? [];
      names.push(session.name);
      byRoom.set(session.room, names);
    }
    for (const [room, names] of byRoom) {
      this.store.renew(room, names).catch(() => {
        // Redis is away; the loss was logged. Renewed next time.
      });
    }
  }

  /** Waits for the connections' last work, then disconnects from Redis. */
  async close(): Promise<void> {
    clearInterval(this.#renewTimer);
    await Promise.allSettled([...this.#work]);
    await this.store.close();
  }
}

/** Connects one socket to the rooms of every process. */
class ClusterConnection {
  readonly id: string = crypto.randomUUID();
  readonly #socket: WebSocketConnection;
  readonly #cluster: ChatCluster;
  readonly #log: (line: string) => void;
  #session: ClusterSession | null = null;
  #work: Promise<void> = Promise.resolve();

  constructor(
    socket: WebSocketConnection,
    cluster: ChatCluster,
    log: (line: string) => void,
  ) {
    this.#socket = socket;
    this.#cluster = cluster;
    this.#log = log;
    socket.onmessage = (event) => this.#queue(() => this.#receive(event.data));
    socket.onclose = () => {
      this.#queue(() => this.#leave("disconnected"));
      cluster.forget(this, this.#work);
    };
  }

  /** The member this connection holds, if any. */
  get session(): ClusterSession | null {
    return this.#session;
  }

  /** Runs one client message's work after the previous one's. */
  #queue(work: () => Promise<void>): void {
    this.#work = this.#work.then(work).catch((error: unknown) => {
      this.#log(`chat connection failed: ${(error as Error).message}`);
      if (this.#socket.readyState === 1) {
        this.#error("unavailable", "the chat is unavailable, try again");
      }
    });
  }

  async #receive(data: unknown): Promise<void> {
    if (typeof data !== "string") {
      return this.#error(
        "binary_not_supported",
        "binary messages are not part of the protocol; send JSON text",
      );
    }
    const parsed = parseClientMessage(data);
    if (!parsed.ok) return this.#error(parsed.code, parsed.message);
    await this.#handle(parsed.message);
  }

  async #handle(message: ClientMessage): Promise<void> {
    if (message.type === "join") return await this.#join(message);
    const session = this.#session;
    if (session === null) {
      return this.#error("not_joined", "join a room first");
    }
    if (message.type === "leave") return await this.#leave("left");
    await this.#cluster.store.append(
      session.room,
      encodeServerMessage({
        type: "message",
        username: session.username,
        room: session.room,
        text: message.text,
        ts: Date.now(),
      }),
    );
  }

  async #join(
    join: Extract<ClientMessage, { type: "join" }>,
  ): Promise<void> {
    if (this.#session?.room === join.room) {
      return this.#error("already_joined", `you are in "${join.room}" already`);
    }
    const store = this.#cluster.store;
    const name = usernameKey(join.username);
    let holder: Holder = {
      u: join.username,
      t: newSessionToken(),
      n: store.nodeId,
      c: this.id,
    };
    let resumed = false;
    const held = await store.claim(join.room, name, holder);
    if (held !== null) {
      const current = JSON.parse(held) as Holder;
      holder = { u: current.u, t: current.t, n: store.nodeId, c: this.id };
      const mayResume = join.token !== null &&
        tokensMatch(join.token, current.t) &&
        await store.takeOver(join.room, name, held, holder);
      if (!mayResume) {
        return this.#error(
          "username_taken",
          `"${join.username}" is taken in "${join.room}"`,
        );
      }
      resumed = true;
      await this.#closeReplaced(current);
    }
    // A second join switches rooms: leave the first once the name is ours.
    await this.#leave("switched");
    const session: ClusterSession = {
      room: join.room,
      name,
      username: holder.u,
      token: holder.t,
    };
    this.#session = session;
    const feed = await this.#cluster.openFeed(session.room);
    let joinId: string | undefined;
    if (!resumed) {
      joinId = await store.append(
        session.room,
        encodeServerMessage({
          type: "join",
          username: session.username,
          room: session.room,
          members: await store.members(session.room),
          ts: Date.now(),
        }),
      );
      await feed.delivered(joinId);
    }
    const members = await store.members(session.room);
    // What was delivered while reading the history is recorded, so that
    // the history and the live messages that follow leave no gap.
    const recording = feed.record();
    let entries: LogEntry[];
    let recovered: boolean | undefined;
    try {
      if (join.since === null) {
        entries = await store.recent(session.room, store.historySize);
      } else {
        entries = await store.from(session.room, join.since);
        recovered = entries.length > 0 && entries[0].id === join.since;
        if (recovered) entries.shift();
        else entries = entries.filter((e) => compareIds(e.id, join.since!) > 0);
      }
    } finally {
      recording.stop();
    }
    if (this.#session !== session || this.#socket.readyState !== 1) return;
    const history = mergeHistory(
      entries,
      recording.entries,
      feed.lastId,
      joinId,
    );
    const notice: MembershipNotice = {
      type: "join",
      username: session.username,
      room: session.room,
      members,
      ts: Date.now(),
      token: session.token,
      history,
    };
    if (joinId !== undefined) notice.id = joinId;
    if (resumed) notice.resumed = true;
    if (recovered !== undefined) notice.recovered = recovered;
    this.#socket.send(encodeServerMessage(notice));
    this.#socket.subscribe(roomTopic(session.room));
    this.#log(
      `${resumed ? "resume" : "join"} ${session.room}: ${session.username}`,
    );
  }

  /** Closes the connection a resume took the name from, here or there. */
  async #closeReplaced(previous: Holder): Promise<void> {
    const store = this.#cluster.store;
    if (previous.n === store.nodeId) {
      this.#cluster.connection(previous.c)?.replaced();
    } else {
      await store.closeRemote(previous.n, previous.c);
    }
  }

  /** Another connection resumed this one's session: it leaves without a
   * trace in the room and is closed with a code that says why. */
  replaced(): void {
    const session = this.#session;
    if (session === null) return;
    this.#session = null;
    this.#socket.unsubscribe(roomTopic(session.room));
    void this.#cluster.closeFeed(session.room);
    this.#socket.close(SESSION_REPLACED_CLOSE_CODE, SESSION_REPLACED_REASON);
  }

  /** Leaves the current room, if any; the leaver hears it too when open. */
  async #leave(why: string): Promise<void> {
    const session = this.#session;
    if (session === null) return;
    this.#session = null;
    const store = this.#cluster.store;
    await store.release(session.room, session.name, this.id);
    const id = await store.append(
      session.room,
      encodeServerMessage({
        type: "leave",
        username: session.username,
        room: session.room,
        members: await store.members(session.room),
        ts: Date.now(),
      }),
    );
    const feed = this.#cluster.feedOf(session.room);
    if (this.#socket.readyState === 1 && feed !== undefined) {
      await (await feed).delivered(id);
    }
    this.#socket.unsubscribe(roomTopic(session.room));
    await this.#cluster.closeFeed(session.room);
    this.#log(`leave ${session.room}: ${session.username} (${why})`);
  }

  #error(code: ChatErrorCode, message: string): void {
    this.#socket.send(encodeServerMessage({ type: "error", code, message }));
  }
}

/**
 * The history a joiner receives: what was read from the stream and what
 * was delivered meanwhile, up to what this process has delivered (later
 * entries reach the joiner live), in order, each once, without its own
 * join notice.
 */
function mergeHistory(
  read: LogEntry[],
  recorded: LogEntry[],
  deliveredUpTo: string,
  ownJoin: string | undefined,
): Array<ChatText | MembershipNotice> {
  const byId = new Map<string, LogEntry>();
  for (const entry of [...read, ...recorded]) {
    if (entry.id === ownJoin) continue;
    if (compareIds(entry.id, deliveredUpTo) > 0) continue;
    byId.set(entry.id, entry);
  }
  const entries = [...byId.values()].sort((a, b) => compareIds(a.id, b.id));
  return entries.map((entry) =>
    JSON.parse(withId(entry)) as ChatText | MembershipNotice
  );
}
