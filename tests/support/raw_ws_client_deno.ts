// A WebSocket client on a raw TCP connection, for feeding a server bytes no
// well-behaved client would send: it writes whatever it is given, reads the
// HTTP response head with its own small parser (the server is not checked
// with its own HTTP code) and decodes the server's frames with FrameDecoder.
// Every read is bounded by a deadline, so a server that never answers fails
// the test with a message instead of hanging it. Deno only.
import assert from "node:assert/strict";
import { encodeFrame } from "../../frame/encoder.ts";
import { type Frame, Opcode, RSV1 } from "../../frame/types.ts";
import { FrameDecoder } from "../../frame/decoder.ts";
import { concat, encoder } from "./bytes.ts";

export { concat, encoder } from "./bytes.ts";

/** The key of RFC 6455 section 1.3. */
export const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** Its accept value, from the RFC's text (not computed by the code under test). */
export const SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** How long any single read may wait for the server, in milliseconds. */
export const READ_DEADLINE = 10_000;

/** A fixed masking key, so failures are reproducible byte for byte. */
const MASK_KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

export interface HeadOptions {
  /** Sec-WebSocket-Version; null leaves the header out. */
  version?: string | null;
  /** Sec-WebSocket-Key; null leaves the header out. */
  key?: string | null;
  /** More header lines, each ending in CRLF. */
  extra?: string;
}

/** An upgrade request head for `path`. */
export function upgradeHead(path: string, options: HeadOptions = {}): string {
  const { version = "13", key = SAMPLE_KEY, extra = "" } = options;
  let head = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  if (key !== null) head += `Sec-WebSocket-Key: ${key}\r\n`;
  if (version !== null) head += `Sec-WebSocket-Version: ${version}\r\n`;
  return head + extra + "\r\n";
}

/** A masked client frame, as a well-behaved client would send it. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array | string,
  fin = true,
): Uint8Array {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  return encodeFrame(opcode as Opcode, bytes, { fin, mask: MASK_KEY });
}

/** A close frame payload: the code in network order, then the reason bytes. */
export function closePayload(
  code: number,
  reason: Uint8Array | string = "",
): Uint8Array {
  const reasonBytes = typeof reason === "string"
    ? encoder.encode(reason)
    : reason;
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/** A response head as read off the wire. */
export interface RawHead {
  statusLine: string;
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Map<string, string>;
}

/** A close frame the server sent, decoded by hand. */
export interface CloseFrame {
  code: number;
  reason: string;
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** A raw TCP connection speaking (or not quite speaking) WebSocket. */
export class RawWebSocket {
  readonly conn: Deno.Conn;
  /** The Sec-WebSocket-Extensions the server answered in `open`, or null. */
  extensions: string | null = null;
  /** Bytes read but not yet consumed by the head reader. */
  #pending: Uint8Array = new Uint8Array(0);
  /** Replaced in `open` to allow RSV1 once permessage-deflate is agreed. */
  #decoder = new FrameDecoder({ expectMasked: false });
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async connect(port: number): Promise<RawWebSocket> {
    return new RawWebSocket(
      await Deno.connect({ hostname: "127.0.0.1", port }),
    );
  }

  /** Connect, send an upgrade head for `path` (with `extra` header lines)
   * and expect 101; `extensions` is what the server agreed, or null. */
  static async open(
    port: number,
    path: string,
    extra = "",
  ): Promise<RawWebSocket> {
    const socket = await RawWebSocket.connect(port);
    try {
      await socket.send(upgradeHead(path, { extra }));
      const head = await socket.readHead();
      assert.equal(head.status, 101, head.statusLine);
      assert.equal(head.headers.get("sec-websocket-accept"), SAMPLE_ACCEPT);
      socket.extensions = head.headers.get("sec-websocket-extensions") ?? null;
      if (socket.extensions?.startsWith("permessage-deflate")) {
        socket.#decoder = new FrameDecoder({
          expectMasked: false,
          allowedReservedBits: RSV1,
        });
      }
      return socket;
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  async send(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /**
   * The next bytes from the server, or null at end of stream. A reset is an
   * error: a server that resets instead of closing may have lost what it
   * wrote last. Fails after {@linkcode READ_DEADLINE}.
   */
  async #read(what: string): Promise<Uint8Array | null> {
    const buffer = new Uint8Array(64 * 1024);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), READ_DEADLINE);
    });
    try {
      const count = await Promise.race([this.conn.read(buffer), deadline]);
      if (count === "timeout") {
        this.close(); // ends the pending read
        throw new Error(
          `${what}: nothing from the server within ${READ_DEADLINE} ms`,
        );
      }
      return count === null ? null : buffer.slice(0, count);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) {
        throw new Error(
          `${what}: the server reset the connection instead of closing it`,
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Read a response head (status line and headers). */
  async readHead(): Promise<RawHead> {
    let end = -1;
    while (true) {
      end = latin1(this.#pending).indexOf("\r\n\r\n");
      if (end >= 0) break;
      const chunk = await this.#read("reading a response head");
      if (chunk === null) {
        throw new Error(
          `the connection ended before a response head; had ${
            JSON.stringify(latin1(this.#pending))
          }`,
        );
      }
      this.#pending = concat(this.#pending, chunk);
    }
    const lines = latin1(this.#pending.subarray(0, end)).split("\r\n");
    this.#pending = this.#pending.slice(end + 4);
    const statusLine = lines[0];
    const match = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
    assert.ok(match, `bad status line ${JSON.stringify(statusLine)}`);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      assert.ok(colon > 0, `bad header line ${JSON.stringify(line)}`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const previous = headers.get(name);
      headers.set(
        name,
        previous === undefined ? value : `${previous}, ${value}`,
      );
    }
    return { statusLine, status: Number(match[1]), headers };
  }

  /** Read a response with a Content-Length body. */
  async readResponse(): Promise<RawHead & { body: string }> {
    const head = await this.readHead();
    const length = Number(head.headers.get("content-length") ?? "0");
    while (this.#pending.length < length) {
      const chunk = await this.#read("reading a response body");
      if (chunk === null) throw new Error("the connection ended in a body");
      this.#pending = concat(this.#pending, chunk);
    }
    const body = new TextDecoder().decode(this.#pending.subarray(0, length));
    this.#pending = this.#pending.slice(length);
    return { ...head, body };
  }

  /** The next frame from the server; fails if the connection ends first. */
  async readFrame(): Promise<Frame> {
    if (this.#pending.length > 0) {
      this.#decoder.push(this.#pending);
      this.#pending = new Uint8Array(0);
    }
    while (true) {
      const frame = this.#decoder.next();
      if (frame !== undefined) {
        return { ...frame, payload: frame.payload.slice() };
      }
      const chunk = await this.#read("reading a frame");
      if (chunk === null) {
        throw new Error("the connection ended before a complete frame");
      }
      this.#decoder.push(chunk);
    }
  }

  /** The next frame must be a close frame with a code; returns it. */
  async readClose(): Promise<CloseFrame> {
    const frame = await this.readFrame();
    assert.equal(frame.opcode, Opcode.Close, "expected a close frame");
    assert.ok(frame.payload.length >= 2, "the close frame has a code");
    return {
      code: (frame.payload[0] << 8) | frame.payload[1],
      reason: new TextDecoder("utf-8", { fatal: true }).decode(
        frame.payload.subarray(2),
      ),
    };
  }

  /** The server must close TCP next, with nothing more sent. */
  async expectEnd(): Promise<void> {
    assert.equal(this.#pending.length, 0, "unread bytes before the end");
    assert.equal(this.#decoder.bufferedBytes, 0, "a partial frame was left");
    const chunk = await this.#read("waiting for the server to close TCP");
    assert.equal(
      chunk,
      null,
      chunk === null ? "" : `more bytes instead of the end: ${latin1(chunk)}`,
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}
