// Helpers for the Deno-only client tests: raw TCP servers written here with
// their own small request and frame readers (so the client is never checked
// with its own parser), an accept key computed directly with crypto.subtle,
// payload generators and event waiters. Tests use Deno.test (through
// `test`), whose op and resource sanitizers check that nothing leaks.

import { withDeadline } from "../interop/peers/bounded.ts";

export const encoder = new TextEncoder();
const decoder = new TextDecoder();

let group = "";
/** Groups tests by name prefix, like node:test's describe. */
export function describe(name: string, body: () => void): void {
  group = name;
  body();
  group = "";
}

/** Options a test may need; the sanitizers stay on unless a test turns
 * them off (only for servers running under Node compatibility). */
export interface TestOptions {
  sanitizeOps?: boolean;
  sanitizeResources?: boolean;
  ignore?: boolean;
}

export function test(
  name: string,
  fn: () => Promise<void> | void,
  options: TestOptions = {},
): void {
  Deno.test({ name: `${group}: ${name}`, fn, ...options });
}

/** The accept key for `key` (RFC 6455 section 1.3), computed here rather
 * than with the library's own function. */
export async function acceptFor(key: string): Promise<string> {
  const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-1", encoder.encode(key + guid)),
  );
  return btoa(String.fromCharCode(...digest));
}

/** `length` bytes of a pattern that differs from byte to byte and block to
 * block, so a misplaced chunk shows. */
export function patternBytes(length: number, seed = 7): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    bytes[i] = (i * 31 + seed + (i >> 10)) & 0xff;
  }
  return bytes;
}

/** A string of exactly `length` UTF-8 bytes mixing 1- to 4-byte characters. */
export function patternText(length: number): string {
  const unit = "a\u00e9\u2603\u{1F600}"; // 1 + 2 + 3 + 4 bytes
  const units = Math.floor(length / 10);
  return unit.repeat(units) + "x".repeat(length - units * 10);
}

/** A frame as a client sent it, unmasked by the reader. */
export interface ClientFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  maskKey: Uint8Array;
  payload: Uint8Array;
}

/** One accepted raw connection, with a small reader of its own. */
export class RawPeer {
  #buffered = new Uint8Array(0);
  #ended = false;

  readonly conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Read more; false at end of stream (a reset counts as the end). */
  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const chunk = new Uint8Array(64 * 1024);
    let count: number | null;
    try {
      count = await this.conn.read(chunk);
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
      count = null;
    }
    if (count === null) {
      this.#ended = true;
      return false;
    }
    const joined = new Uint8Array(this.#buffered.length + count);
    joined.set(this.#buffered);
    joined.set(chunk.subarray(0, count), this.#buffered.length);
    this.#buffered = joined;
    return true;
  }

  async #take(length: number): Promise<Uint8Array> {
    while (this.#buffered.length < length) {
      if (!(await this.#fill())) {
        throw new Error(`connection ended with ${this.#buffered.length} bytes`);
      }
    }
    const taken = this.#buffered.slice(0, length);
    this.#buffered = this.#buffered.slice(length);
    return taken;
  }

  /** The request head: the request line and the headers by lower-case
   * name. */
  async readRequestHead(): Promise<
    { requestLine: string; headers: Map<string, string> }
  > {
    let end = -1;
    while ((end = findHeadEnd(this.#buffered)) === -1) {
      if (!(await this.#fill())) throw new Error("no request head");
    }
    const text = decoder.decode(await this.#take(end + 4));
    const [requestLine, ...lines] = text.slice(0, -4).split("\r\n");
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.set(
        line.slice(0, colon).toLowerCase(),
        line.slice(colon + 1).trim(),
      );
    }
    return { requestLine, headers };
  }

  /** Reads the request and answers 101 with the right accept key, plus
   * `extraHeaders` (lines ending in CRLF) and `after` in the same write. */
  async acceptUpgrade(
    extraHeaders = "",
    after: Uint8Array = new Uint8Array(0),
  ): Promise<void> {
    const { headers } = await this.readRequestHead();
    const accept = await acceptFor(headers.get("sec-websocket-key") ?? "");
    const head = encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
        extraHeaders + "\r\n",
    );
    const both = new Uint8Array(head.length + after.length);
    both.set(head);
    both.set(after, head.length);
    await this.write(both);
  }

  /** One frame from the client, any length, unmasked. */
  async readFrame(): Promise<ClientFrame> {
    const [first, second] = await this.#take(2);
    let length = second & 0x7f;
    if (length === 126) {
      const extended = await this.#take(2);
      length = (extended[0] << 8) | extended[1];
    } else if (length === 127) {
      const extended = await this.#take(8);
      length = Number(new DataView(extended.buffer).getBigUint64(0));
    }
    const masked = (second & 0x80) !== 0;
    const maskKey = masked ? await this.#take(4) : new Uint8Array(4);
    const payload = await this.#take(length);
    for (let i = 0; i < payload.length; i++) payload[i] ^= maskKey[i % 4];
    return {
      fin: (first & 0x80) !== 0,
      rsv: (first >> 4) & 0x7,
      opcode: first & 0x0f,
      masked,
      maskKey,
      payload,
    };
  }

  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /** Reads and drops everything until the client closes; true when it did,
   * an error when it did not within 5 seconds. */
  async readsToEnd(): Promise<boolean> {
    const drain = async () => {
      while (await this.#fill()) this.#buffered = new Uint8Array(0);
    };
    await withDeadline(drain(), 5_000, "waiting for the client to close TCP");
    return true;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

function findHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 0x0d && bytes[i + 1] === 0x0a && bytes[i + 2] === 0x0d &&
      bytes[i + 3] === 0x0a
    ) return i;
  }
  return -1;
}

/** A server frame (unmasked) with any payload length. */
export function serverFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const headerLength = payload.length < 126
    ? 2
    : payload.length < 65536
    ? 4
    : 10;
  const frame = new Uint8Array(headerLength + payload.length);
  frame[0] = 0x80 | opcode;
  const view = new DataView(frame.buffer);
  if (headerLength === 2) frame[1] = payload.length;
  else if (headerLength === 4) {
    frame[1] = 126;
    view.setUint16(2, payload.length);
  } else {
    frame[1] = 127;
    view.setBigUint64(2, BigInt(payload.length));
  }
  frame.set(payload, headerLength);
  return frame;
}

/** A TCP server on 127.0.0.1 port 0 that a test drives by hand. */
export class RawServer {
  readonly #listener: Deno.Listener;
  readonly #peers: RawPeer[] = [];

  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async accept(): Promise<RawPeer> {
    const peer = new RawPeer(await this.#listener.accept());
    this.#peers.push(peer);
    return peer;
  }

  close(): void {
    this.#listener.close();
    for (const peer of this.#peers) peer.close();
  }
}

/** Runs `body` with a raw server, always closing it and its connections. */
export async function withRawServer(
  body: (server: RawServer) => Promise<void>,
): Promise<void> {
  const server = new RawServer();
  try {
    await body(server);
  } finally {
    server.close();
  }
}

export { decoder };
