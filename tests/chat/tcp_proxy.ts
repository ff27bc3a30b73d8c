/**
 * A TCP relay on 127.0.0.1 that a test can cut: every connection it carries
 * is closed at once, as when a network drops, while it keeps accepting new
 * ones. Used to check that the chat page reconnects.
 *
 * @module
 */

/** One relayed connection: the client's side and the server's side. */
interface Pair {
  client: Deno.Conn;
  upstream: Deno.Conn;
  done: Promise<void>;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Copies bytes one way until either side ends, then closes both. */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const count = await from.read(buffer);
      if (count === null) break;
      let written = 0;
      while (written < count) {
        written += await to.write(buffer.subarray(written, count));
      }
    }
  } catch {
    // A side went away: the relay ends.
  }
  closeQuietly(from);
  closeQuietly(to);
}

/** A relay from a local port to `target`. */
export class TcpProxy {
  readonly #listener: Deno.Listener;
  readonly #target: number;
  readonly #pairs = new Set<Pair>();
  readonly #accepting: Promise<void>;

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
      const pair: Pair = { client, upstream, done: Promise.resolve() };
      pair.done = Promise.all([
        pump(client, upstream),
        pump(upstream, client),
      ]).then(() => void this.#pairs.delete(pair));
      this.#pairs.add(pair);
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
