/**
 * A TCP proxy that sits between an interop peer and the server and reads
 * the frames going each way, so a test can see what really crossed the
 * wire: whether a message was sent compressed (RSV1), how many frames it
 * took, and how many bytes. Connections are keyed by the request-target of
 * their upgrade request (peers put the check's name in the query).
 *
 * The proxy only watches: bytes are forwarded unchanged before they are
 * parsed, and a frame it cannot parse stops the watching, not the
 * forwarding.
 *
 * @module
 */

import { FrameDecoder } from "../../../frame/decoder.ts";
import { Opcode, RSV1 } from "../../../frame/types.ts";

/** One frame as seen on the wire. */
export interface WireFrame {
  /** The opcode. */
  opcode: number;
  /** Whether RSV1 (permessage-deflate's "compressed") was set. */
  rsv1: boolean;
  /** Whether FIN was set. */
  fin: boolean;
  /** Payload length in bytes. */
  length: number;
}

/** Both directions of one proxied connection. */
export interface WireRecord {
  /** The request-target of the upgrade request, like `/?check=x`. */
  target: string;
  /** The `Sec-WebSocket-Extensions` request header, or null. */
  offered: string | null;
  /** The `Sec-WebSocket-Extensions` response header, or null. */
  agreed: string | null;
  /** Frames from the peer (client) to the server, in order. */
  up: WireFrame[];
  /** Frames from the server to the peer, in order. */
  down: WireFrame[];
  /** Bytes after the handshake, peer to server. */
  upBytes: number;
  /** Bytes after the handshake, server to peer. */
  downBytes: number;
  /** Why watching stopped early, if it did. */
  problem?: string;
}

/** A running proxy. */
export interface WireProxy {
  /** `ws://127.0.0.1:<port>` of the proxy. */
  url: string;
  /** What each connection carried, by request-target. */
  records: Map<string, WireRecord>;
  /** Stops accepting and closes every proxied connection. */
  close(): Promise<void>;
}

const HEAD_END = [13, 10, 13, 10];

function indexOfHeadEnd(bytes: Uint8Array): number {
  outer: for (let i = 0; i + HEAD_END.length <= bytes.length; i++) {
    for (let j = 0; j < HEAD_END.length; j++) {
      if (bytes[i + j] !== HEAD_END[j]) continue outer;
    }
    return i + HEAD_END.length;
  }
  return -1;
}

function headerValue(head: string, name: string): string | null {
  const values: string[] = [];
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    if (line.slice(0, colon).trim().toLowerCase() !== name) continue;
    values.push(line.slice(colon + 1).trim());
  }
  return values.length === 0 ? null : values.join(", ");
}

/** Watches one direction: the HTTP head, then frames. */
class DirectionWatcher {
  #head = new Uint8Array(0);
  #headDone = false;
  #decoder: FrameDecoder;
  #stopped = false;

  readonly onHead: (head: string) => void;
  readonly onFrame: (frame: WireFrame) => void;
  readonly onBytes: (count: number) => void;
  readonly onProblem: (problem: string) => void;

  constructor(
    masked: boolean,
    onHead: (head: string) => void,
    onFrame: (frame: WireFrame) => void,
    onBytes: (count: number) => void,
    onProblem: (problem: string) => void,
  ) {
    this.onHead = onHead;
    this.onFrame = onFrame;
    this.onBytes = onBytes;
    this.onProblem = onProblem;
    this.#decoder = new FrameDecoder({
      expectMasked: masked,
      allowedReservedBits: RSV1,
    });
  }

  push(chunk: Uint8Array): void {
    if (this.#stopped) return;
    let rest = chunk;
    if (!this.#headDone) {
      const joined = new Uint8Array(this.#head.length + chunk.length);
      joined.set(this.#head);
      joined.set(chunk, this.#head.length);
      const end = indexOfHeadEnd(joined);
      if (end === -1) {
        this.#head = joined;
        return;
      }
      this.#headDone = true;
      this.onHead(new TextDecoder().decode(joined.subarray(0, end)));
      rest = joined.subarray(end);
    }
    this.onBytes(rest.length);
    try {
      this.#decoder.push(rest);
      for (;;) {
        const frame = this.#decoder.next();
        if (frame === undefined) break;
        this.onFrame({
          opcode: frame.opcode,
          rsv1: frame.rsv1,
          fin: frame.fin,
          length: frame.payload.length,
        });
      }
    } catch (error) {
      this.#stopped = true;
      this.onProblem(String(error));
    }
  }
}

async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  watcher: DirectionWatcher,
): Promise<void> {
  try {
    for (;;) {
      const buffer = new Uint8Array(64 * 1024);
      const count = await from.read(buffer);
      if (count === null) break;
      const chunk = buffer.subarray(0, count);
      let written = 0;
      while (written < count) {
        written += await to.write(chunk.subarray(written));
      }
      watcher.push(chunk);
    }
    await to.closeWrite();
  } catch {
    // One side went away; the other is closed by the caller.
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/**
 * Starts a proxy on 127.0.0.1 (port 0) in front of `serverPort`.
 *
 * @param serverPort where the server listens on 127.0.0.1
 * @returns the running proxy
 */
export function startWireProxy(serverPort: number): WireProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const records = new Map<string, WireRecord>();
  const open = new Set<Deno.Conn>();
  const sessions = new Set<Promise<void>>();

  const serveOne = async (client: Deno.Conn): Promise<void> => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: serverPort });
    } catch {
      closeQuietly(client);
      return;
    }
    open.add(client);
    open.add(server);
    const record: WireRecord = {
      target: "",
      offered: null,
      agreed: null,
      up: [],
      down: [],
      upBytes: 0,
      downBytes: 0,
    };
    const problem = (text: string) => record.problem ??= text;
    const up = new DirectionWatcher(
      true,
      (head) => {
        record.target = head.slice(0, head.indexOf("\r\n")).split(" ")[1];
        record.offered = headerValue(head, "sec-websocket-extensions");
        records.set(record.target, record);
      },
      (frame) => record.up.push(frame),
      (count) => record.upBytes += count,
      problem,
    );
    const down = new DirectionWatcher(
      false,
      (head) => record.agreed = headerValue(head, "sec-websocket-extensions"),
      (frame) => record.down.push(frame),
      (count) => record.downBytes += count,
      problem,
    );
    await Promise.all([pump(client, server, up), pump(server, client, down)]);
    for (const conn of [client, server]) {
      open.delete(conn);
      closeQuietly(conn);
    }
  };

  const accepting = (async () => {
    try {
      for await (const client of listener) {
        const session = serveOne(client);
        sessions.add(session);
        session.finally(() => sessions.delete(session));
      }
    } catch {
      // The listener was closed.
    }
  })();

  return {
    url: `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    records,
    async close(): Promise<void> {
      listener.close();
      await accepting;
      for (const conn of open) closeQuietly(conn);
      await Promise.all(sessions);
    },
  };
}

/** The data frames among `frames` (continuations included). */
export function dataFrames(frames: readonly WireFrame[]): WireFrame[] {
  return frames.filter((frame) =>
    frame.opcode === Opcode.Text || frame.opcode === Opcode.Binary ||
    frame.opcode === Opcode.Continuation
  );
}
