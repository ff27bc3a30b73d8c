/**
 * A TCP relay on 127.0.0.1 that a test can cut, as when a network drops,
 * while it keeps accepting new connections. Used to check that the chat
 * page reconnects. Two ways to drop:
 *
 * - {@linkcode TcpProxy.cut} closes both sides of every connection: the
 *   server sees the end at once;
 * - {@linkcode TcpProxy.strand} closes only the client's side and keeps the
 *   server's side open, swallowing what the server sends: the server cannot
 *   tell that the client is gone (until its keepalive notices), which is the
 *   race a fast rejoin runs into.
 *
 * And {@linkcode TcpProxy.holdReplies} keeps what the server sends until
 * {@linkcode TcpProxy.releaseReplies} hands it over in one write per
 * connection, so that a client reads replies and what followed them at once.
 *
 * @module
 */

import { concatBytes } from "../../../frame/bytes.ts";

/** One relayed connection: the client's side and the server's side. */
interface Pair {
  client: Deno.Conn;
  upstream: Deno.Conn;
  /** The client's side is gone; the server's side is kept open. */
  stranded: boolean;
  /** What the server sent while replies were held. */
  held: Uint8Array[];
  /** The write of the held bytes, once released. */
  released: Promise<void>;
  done: Promise<void>;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

async function writeAll(to: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await to.write(bytes.subarray(written));
  }
}

/** The chunks as one string, a character per byte. */
function latin1(chunks: Uint8Array[]): string {
  let text = "";
  for (const chunk of chunks) text += String.fromCharCode(...chunk);
  return text;
}

/**
 * Copies bytes one way until either side ends, then closes both; except
 * that once the pair is stranded, what the server sends is swallowed and
 * the client's side ending leaves the server's side open.
 */
async function pump(
  pair: Pair,
  fromClient: boolean,
  hold: (pair: Pair, bytes: Uint8Array) => boolean,
): Promise<void> {
  const from = fromClient ? pair.client : pair.upstream;
  const to = fromClient ? pair.upstream : pair.client;
  const buffer = new Uint8Array(16 * 1024);
  for (;;) {
    let count: number | null;
    try {
      count = await from.read(buffer);
    } catch {
      break; // this side went away
    }
    if (count === null) break;
    if (pair.stranded) continue;
    if (!fromClient && hold(pair, buffer.subarray(0, count))) continue;
    try {
      await pair.released;
      await writeAll(to, buffer.subarray(0, count));
    } catch {
      if (!pair.stranded) break; // the other side went away
    }
  }
  if (pair.stranded && fromClient) return;
  closeQuietly(pair.client);
  closeQuietly(pair.upstream);
}

/** A relay from a local port to `target`. */
export class TcpProxy {
  readonly #listener: Deno.Listener;
  readonly #target: number;
  readonly #pairs = new Set<Pair>();
  readonly #accepting: Promise<void>;
  #holding = false;
  #heldWaiters: Array<{ text: string; resolve: () => void }> = [];

  /**
   * Starts relaying from a free port on 127.0.0.1 to `targetPort`.
   *
   * @param targetPort the server's port on 127.0.0.1
   */
  constructor(targetPort: number) {
    this.#target = targetPort;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** The port clients connect to. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** How many connections are being relayed. */
  get open(): number {
    return this.#pairs.size;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({
          hostname: "127.0.0.1",
          port: this.#target,
        });
      } catch {
        closeQuietly(client);
        continue;
      }
      const pair: Pair = {
        client,
        upstream,
        stranded: false,
        held: [],
        released: Promise.resolve(),
        done: Promise.resolve(),
      };
      const hold = (pair: Pair, bytes: Uint8Array) => this.#hold(pair, bytes);
      pair.done = Promise.all([
        pump(pair, true, hold),
        pump(pair, false, hold),
      ])
        .then(() => void this.#pairs.delete(pair));
      this.#pairs.add(pair);
    }
  }

  /**
   * Drops the client's side of every relayed connection and keeps the
   * server's side open, reading and discarding what the server sends, until
   * the server closes it or the relay is cut or closed. New connections are
   * still accepted and relayed.
   *
   * @returns how many connections were stranded
   */
  strand(): number {
    let stranded = 0;
    for (const pair of this.#pairs) {
      if (pair.stranded) continue;
      pair.stranded = true;
      closeQuietly(pair.client);
      stranded++;
    }
    return stranded;
  }

  /** How many connections are stranded: the client gone, the server's side
   * still open. */
  get strandedOpen(): number {
    let count = 0;
    for (const pair of this.#pairs) if (pair.stranded) count++;
    return count;
  }

  /** Keeps what the server sends, on every connection old and new, until
   * {@linkcode releaseReplies}. */
  holdReplies(): void {
    this.#holding = true;
  }

  /** Keeps `bytes` from the server if replies are held; says whether. */
  #hold(pair: Pair, bytes: Uint8Array): boolean {
    if (!this.#holding) return false;
    pair.held.push(bytes.slice());
    const text = latin1(pair.held);
    const waiting = this.#heldWaiters;
    this.#heldWaiters = [];
    for (const waiter of waiting) {
      if (text.includes(waiter.text)) waiter.resolve();
      else this.#heldWaiters.push(waiter);
    }
    return true;
  }

  /** Resolves once the bytes held for one connection contain `text`. */
  heldContains(text: string): Promise<void> {
    for (const pair of this.#pairs) {
      if (latin1(pair.held).includes(text)) return Promise.resolve();
    }
    return new Promise((resolve) => this.#heldWaiters.push({ text, resolve }));
  }

  /** Hands each connection's held bytes to its client in one write, and
   * relays as before. */
  releaseReplies(): void {
    this.#holding = false;
    for (const pair of this.#pairs) {
      const held = pair.held;
      pair.held = [];
      if (held.length === 0) continue;
      const bytes = concatBytes(held);
      pair.released = writeAll(pair.client, bytes).catch(() => {});
    }
  }

  /** Drops every relayed connection; new ones are still accepted. */
  async cut(): Promise<void> {
    const pairs = [...this.#pairs];
    for (const { client, upstream } of pairs) {
      closeQuietly(client);
      closeQuietly(upstream);
    }
    await Promise.all(pairs.map(({ done }) => done));
  }

  /** Stops accepting and drops every connection. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    await this.cut();
  }
}
