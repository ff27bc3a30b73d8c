// Helpers for the Deno-only server tests: a server on 127.0.0.1 port 0, a
// raw TCP client with its own small HTTP/1.1 response and frame reader (so
// the server is never checked with its own parser), and Deno.test wrappers.
// Deno.test rather than node:test: only Deno.test runs the op, resource and
// timer sanitizers, which check that the server leaks nothing.
import assert from "node:assert/strict";
import {
  serve,
  type ServeHandler,
  type ServeOptions,
  type Server,
} from "../../mod.ts";

export const encoder = new TextEncoder();

let group = "";
/** Groups tests by name prefix, like node:test's describe. */
export function describe(name: string, body: () => void): void {
  group = name;
  body();
  group = "";
}
export function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test(`${group}: ${name}`, fn);
}

export function startServer(
  handler: ServeHandler,
  options: ServeOptions = {},
): Server {
  return serve(
    { port: 0, hostname: "127.0.0.1", onListen() {}, ...options },
    handler,
  );
}

/** A masked client frame with a payload under 126 bytes. */
export function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const mask = [0x37, 0xfa, 0x21, 0x3d];
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  frame.set(mask, 2);
  for (let i = 0; i < payload.length; i++) {
    frame[6 + i] = payload[i] ^ mask[i % 4];
  }
  return frame;
}

export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

export function utf8(binary: string): string {
  return new TextDecoder().decode(
    Uint8Array.from(binary, (c) => c.charCodeAt(0)),
  );
}

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** A client on a raw TCP connection, with its own small response reader so
 * the server is not checked with its own parser. */
export class RawClient {
  #received = "";
  #ended = false;
  readonly conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async connect(server: Server): Promise<RawClient> {
    return new RawClient(
      await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    );
  }

  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /** Read more; false at end of stream (or a reset, reported as the end). */
  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const buffer = new Uint8Array(16 * 1024);
    let count: number | null;
    try {
      count = await this.conn.read(buffer);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) count = null;
      else throw error;
    }
    if (count === null) {
      this.#ended = true;
      return false;
    }
    this.#received += latin1(buffer.subarray(0, count));
    return true;
  }

  async #take(length: number): Promise<string> {
    while (this.#received.length < length) {
      if (!(await this.#fill())) {
        throw new Error(
          `connection ended; had ${JSON.stringify(this.#received)}`,
        );
      }
    }
    const taken = this.#received.slice(0, length);
    this.#received = this.#received.slice(length);
    return taken;
  }

  async #line(): Promise<string> {
    while (!this.#received.includes("\r\n")) {
      if (!(await this.#fill())) {
        throw new Error(
          `connection ended; had ${JSON.stringify(this.#received)}`,
        );
      }
    }
    const end = this.#received.indexOf("\r\n");
    return (await this.#take(end + 2)).slice(0, end);
  }

  async #head(): Promise<{ status: number; headers: Map<string, string> }> {
    const statusLine = await this.#line();
    const match = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
    assert.ok(match, `bad status line ${JSON.stringify(statusLine)}`);
    const headers = new Map<string, string>();
    while (true) {
      const line = await this.#line();
      if (line === "") break;
      const colon = line.indexOf(":");
      headers.set(
        line.slice(0, colon).toLowerCase(),
        line.slice(colon + 1).trim(),
      );
    }
    return { status: Number(match[1]), headers };
  }

  /** One chunk of a chunked body; null for the last chunk. */
  async #chunk(): Promise<string | null> {
    const size = parseInt(await this.#line(), 16);
    if (size === 0) {
      assert.equal(await this.#line(), "");
      return null;
    }
    const data = await this.#take(size);
    assert.equal(await this.#line(), "");
    return data;
  }

  /** Read one response; `headRequest` means no body follows. */
  async readResponse(headRequest = false): Promise<RawResponse> {
    const { status, headers } = await this.#head();
    let body = "";
    if (headRequest || status === 204 || status === 304 || status < 200) {
      // no body
    } else if (headers.get("transfer-encoding") === "chunked") {
      body = await this.readChunkedRest();
    } else if (headers.has("content-length")) {
      body = await this.#take(Number(headers.get("content-length")));
    } else {
      body = await this.readToEnd();
    }
    return { status, headers, body: utf8(body) };
  }

  /** A chunked response's head and its first chunk. */
  async readResponseHeadAndChunk(): Promise<
    { headers: Map<string, string>; chunk: string | null }
  > {
    const { headers } = await this.#head();
    return { headers, chunk: await this.#chunk() };
  }

  /** The remaining chunks of a chunked body, joined. */
  async readChunkedRest(): Promise<string> {
    let body = "";
    while (true) {
      const chunk = await this.#chunk();
      if (chunk === null) return body;
      body += chunk;
    }
  }

  /** One unmasked server frame with a payload under 126 bytes. */
  async readFrame(): Promise<
    { opcode: number; payload: string; code?: number }
  > {
    const header = await this.#take(2);
    const opcode = header.charCodeAt(0) & 0x0f;
    const length = header.charCodeAt(1);
    assert.ok(length < 126, "test frames are short and unmasked");
    const payload = await this.#take(length);
    if (opcode === 0x8) {
      const code = (payload.charCodeAt(0) << 8) | payload.charCodeAt(1);
      return { opcode, payload: utf8(payload.slice(2)), code };
    }
    return { opcode, payload: utf8(payload) };
  }

  /** Everything until the server closes. */
  async readToEnd(): Promise<string> {
    while (await this.#fill());
    const rest = this.#received;
    this.#received = "";
    return rest;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** Run `body` with a server and raw clients, always cleaning up. */
export async function withServer(
  handler: ServeHandler,
  options: ServeOptions,
  body: (server: Server, connect: () => Promise<RawClient>) => Promise<void>,
  start: (
    handler: ServeHandler,
    options: ServeOptions,
  ) => Server | Promise<Server> = startServer,
): Promise<void> {
  const server = await start(handler, options);
  const clients: RawClient[] = [];
  try {
    await body(server, async () => {
      const client = await RawClient.connect(server);
      clients.push(client);
      return client;
    });
  } finally {
    for (const client of clients) client.close();
    await server.shutdown();
  }
}

/** Replace console.error while `body` runs; returns what was logged. */
export async function capturingErrors(
  body: () => Promise<void>,
): Promise<unknown[][]> {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void logged.push(args);
  try {
    await body();
  } finally {
    console.error = original;
  }
  return logged;
}

export const echoInfo: ServeHandler = async (request) => {
  const body = request.body === null ? "" : await request.text();
  return new Response(
    `${request.method} ${new URL(request.url).pathname} ${body}`,
    {
      headers: { "x-url": request.url },
    },
  );
};
