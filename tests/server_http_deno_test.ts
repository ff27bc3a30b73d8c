// Deno only: real sockets through Deno.listen / Deno.connect. Bun's run
// excludes tests/*_deno_test.ts. These use Deno.test rather than node:test
// because only Deno.test runs the op, resource and timer sanitizers, which
// check that the server leaks nothing.
import assert from "node:assert/strict";
import {
  serve,
  type ServeHandler,
  type ServeOptions,
  type Server,
  upgradeWebSocket,
} from "../server.ts";
import { MAX_HEAD_BYTES } from "../http1.ts";

const encoder = new TextEncoder();

let group = "";
function describe(name: string, body: () => void): void {
  group = name;
  body();
  group = "";
}
function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test(`${group}: ${name}`, fn);
}

function startServer(
  handler: ServeHandler,
  options: ServeOptions = {},
): Server {
  return serve(
    { port: 0, hostname: "127.0.0.1", onListen() {}, ...options },
    handler,
  );
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

function utf8(binary: string): string {
  return new TextDecoder().decode(
    Uint8Array.from(binary, (c) => c.charCodeAt(0)),
  );
}

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** A client on a raw TCP connection, with its own small response reader so
 * the server is not checked with its own parser. */
class RawClient {
  #received = "";
  #ended = false;
  constructor(readonly conn: Deno.Conn) {}

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
async function withServer(
  handler: ServeHandler,
  options: ServeOptions,
  body: (server: Server, connect: () => Promise<RawClient>) => Promise<void>,
): Promise<void> {
  const server = startServer(handler, options);
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
async function capturingErrors(
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

const echoInfo: ServeHandler = async (request) => {
  const body = request.body === null ? "" : await request.text();
  return new Response(
    `${request.method} ${new URL(request.url).pathname} ${body}`,
    {
      headers: { "x-url": request.url },
    },
  );
};

describe("serve: plain HTTP", () => {
  test("GET with fetch()", async () => {
    await withServer(() => new Response("hello world"), {}, async (server) => {
      const response = await fetch(
        `http://127.0.0.1:${server.addr.port}/path?q=1`,
      );
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-length"), "11");
      assert.ok(response.headers.get("date"));
      assert.equal(await response.text(), "hello world");
    });
  });

  test("the Request carries URL, method, headers and remoteAddr", async () => {
    let seen: {
      url: string;
      method: string;
      custom: string | null;
      remote: string;
    } | undefined;
    const handler: ServeHandler = (request, info) => {
      seen = {
        url: request.url,
        method: request.method,
        custom: request.headers.get("x-custom"),
        remote: info.remoteAddr.hostname,
      };
      return new Response(null, { status: 204 });
    };
    await withServer(handler, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(
        "DELETE /a/b?c=d HTTP/1.1\r\nHost: example.test:81\r\nX-Custom: yes\r\n\r\n",
      );
      const response = await client.readResponse();
      assert.equal(response.status, 204);
      assert.equal(response.headers.has("content-length"), false);
      assert.deepEqual(seen, {
        url: "http://example.test:81/a/b?c=d",
        method: "DELETE",
        custom: "yes",
        remote: "127.0.0.1",
      });
    });
  });

  test("string, bytes, ArrayBuffer, Blob and null bodies get Content-Length", async () => {
    const bodies: Record<string, () => BodyInit | null> = {
      "/string": () => "abc",
      "/bytes": () => new Uint8Array([1, 2, 3, 4]),
      "/buffer": () => new ArrayBuffer(5),
      "/blob": () => new Blob(["blob", "parts"]),
      "/null": () => null,
    };
    const handler: ServeHandler = (request) =>
      new Response(bodies[new URL(request.url).pathname]());
    await withServer(handler, {}, async (_server, connect) => {
      const client = await connect();
      const expected: Array<[string, string]> = [
        ["/string", "3"],
        ["/bytes", "4"],
        ["/buffer", "5"],
        ["/blob", "9"],
        ["/null", "0"],
      ];
      for (const [path, length] of expected) {
        await client.send(`GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`);
        const response = await client.readResponse();
        assert.equal(response.headers.get("content-length"), length, path);
        assert.equal(response.headers.has("transfer-encoding"), false, path);
      }
    });
  });

  test("HEAD gets the headers and no body", async () => {
    await withServer(
      () => new Response("twelve bytes"),
      {},
      async (_server, connect) => {
        const client = await connect();
        await client.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
        const head = await client.readResponse(true);
        assert.equal(head.status, 200);
        assert.equal(head.headers.get("content-length"), "12");
        // The next response follows directly: no body bytes were sent.
        await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert.equal((await client.readResponse()).body, "twelve bytes");
      },
    );
  });

  test("keep-alive: two requests on one connection, then Connection: close", async () => {
    await withServer(echoInfo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send("GET /one HTTP/1.1\r\nHost: a\r\n\r\n");
      const first = await client.readResponse();
      assert.equal(first.body, "GET /one ");
      assert.equal(first.headers.has("connection"), false);
      await client.send(
        "GET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      );
      const second = await client.readResponse();
      assert.equal(second.body, "GET /two ");
      assert.equal(second.headers.get("connection"), "close");
      assert.equal(await client.readToEnd(), "");
    });
  });

  test("pipelined requests in one write are answered in order", async () => {
    await withServer(echoInfo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(
        "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
          "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
      );
      assert.equal((await client.readResponse()).body, "POST /1 abc");
      assert.equal((await client.readResponse()).body, "GET /2 ");
    });
  });

  test("HTTP/1.0 closes after the response", async () => {
    await withServer(echoInfo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send("GET /old HTTP/1.0\r\n\r\n");
      const response = await client.readResponse();
      assert.equal(response.body, "GET /old ");
      assert.equal(response.headers.get("connection"), "close");
      assert.equal(await client.readToEnd(), "");
    });
  });

  test("POST with Content-Length echoed (fetch)", async () => {
    await withServer(echoInfo, {}, async (server) => {
      const response = await fetch(
        `http://127.0.0.1:${server.addr.port}/echo`,
        {
          method: "POST",
          body: "payload \u00e9",
        },
      );
      assert.equal(await response.text(), "POST /echo payload \u00e9");
    });
  });

  test("POST with a chunked body echoed", async () => {
    await withServer(echoInfo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      );
      await client.send("4;ext=1\r\nabcd\r\n");
      await client.send("3\r\nefg\r\n0\r\nX-Trailer: t\r\n\r\n");
      assert.equal((await client.readResponse()).body, "POST /c abcdefg");
      await client.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
      assert.equal((await client.readResponse()).body, "GET /after ");
    });
  });

  test("an unread body is drained and the connection kept", async () => {
    await withServer(
      () => new Response("ignored the body"),
      {},
      async (_server, connect) => {
        const client = await connect();
        await client.send(
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
        );
        assert.equal((await client.readResponse()).body, "ignored the body");
        await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert.equal((await client.readResponse()).body, "ignored the body");
      },
    );
  });

  test("a body over MAX_BODY_BYTES -> 413 and close", async () => {
    await withServer(echoInfo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(
        `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${
          2 * 1024 * 1024
        }\r\n\r\n`,
      );
      const response = await client.readResponse();
      assert.equal(response.status, 413);
      assert.equal(response.headers.get("connection"), "close");
      assert.equal(await client.readToEnd(), "");
    });
  });

  test("Expect: 100-continue gets a 100 when the body is read", async () => {
    await withServer(echoInfo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(
        "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
      );
      const interim = await client.readResponse();
      assert.equal(interim.status, 100);
      await client.send("hi");
      assert.equal((await client.readResponse()).body, "POST /e hi");
    });
  });

  test("a streaming body is sent chunked as it is produced", async () => {
    let releaseSecond!: () => void;
    const secondMayFollow = new Promise<void>((resolve) =>
      releaseSecond = resolve
    );
    const handler = () => {
      let step = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          step++;
          if (step === 1) controller.enqueue(encoder.encode("first;"));
          else if (step === 2) {
            await secondMayFollow;
            controller.enqueue(encoder.encode("second"));
          } else controller.close();
        },
      });
      return new Response(body);
    };
    await withServer(handler, {}, async (_server, connect) => {
      const client = await connect();
      await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
      // The head and the first chunk arrive while the second is held back.
      const head = await client.readResponseHeadAndChunk();
      assert.equal(head.headers.get("transfer-encoding"), "chunked");
      assert.equal(head.headers.has("content-length"), false);
      assert.equal(head.chunk, "first;");
      releaseSecond();
      assert.equal(await client.readChunkedRest(), "second");
    });
  });

  test("a handler that throws -> 500, logged once", async () => {
    const failure = new Error("handler failure");
    await withServer(
      () => {
        throw failure;
      },
      {},
      async (_server, connect) => {
        const logged = await capturingErrors(async () => {
          const client = await connect();
          await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
          assert.equal((await client.readResponse()).status, 500);
          // The connection survives a handler error.
          await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
          assert.equal((await client.readResponse()).status, 500);
        });
        assert.equal(logged.length, 2);
        assert.ok(logged[0].includes(failure));
      },
    );
  });

  test("a rejected promise from the handler -> 500", async () => {
    await withServer(
      () => Promise.reject(new Error("async failure")),
      {},
      async (server) => {
        const logged = await capturingErrors(async () => {
          const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
          assert.equal(response.status, 500);
          await response.body?.cancel();
        });
        assert.equal(logged.length, 1);
      },
    );
  });
});

describe("serve: refusals", () => {
  test("a half-sent head -> 408 after headersTimeout, then close", async () => {
    await withServer(
      echoInfo,
      { headersTimeout: 200 },
      async (_server, connect) => {
        const client = await connect();
        await client.send("GET / HTTP/1.1\r\nHost: a\r\n");
        const response = await client.readResponse();
        assert.equal(response.status, 408);
        assert.equal(response.headers.get("connection"), "close");
        assert.equal(await client.readToEnd(), "");
      },
    );
  });

  test("an idle keep-alive connection is closed silently after headersTimeout", async () => {
    await withServer(
      echoInfo,
      { headersTimeout: 200 },
      async (_server, connect) => {
        const client = await connect();
        await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert.equal((await client.readResponse()).status, 200);
        assert.equal(await client.readToEnd(), ""); // no 408 on an idle connection
      },
    );
  });

  test("a Response whose body was already used -> 500", async () => {
    const used = new Response("once");
    await used.text();
    await withServer(() => used, {}, async (_server, connect) => {
      const logged = await capturingErrors(async () => {
        const client = await connect();
        await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        const response = await client.readResponse();
        assert.equal(response.status, 500);
        assert.equal(response.headers.get("connection"), "close");
      });
      assert.equal(logged.length, 1);
    });
  });

  test("a head over MAX_HEAD_BYTES -> 431", async () => {
    await withServer(echoInfo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(
        `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${
          "b".repeat(MAX_HEAD_BYTES)
        }\r\n\r\n`,
      );
      const response = await client.readResponse();
      assert.equal(response.status, 431);
      assert.equal(await client.readToEnd(), "");
    });
  });

  const refusals: Array<[string, string, number]> = [
    ["HTTP/2 preface -> 505", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505],
    [
      "malformed header -> 400",
      "GET / HTTP/1.1\r\nHost: a\r\nBad Header: 1\r\n\r\n",
      400,
    ],
    ["bare LF -> 400", "GET / HTTP/1.1\nHost: a\n\n", 400],
    [
      "CL + TE -> 400",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      400,
    ],
    ["invalid Host -> 400", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400],
    ["CONNECT -> 501", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501],
  ];
  for (const [name, request, status] of refusals) {
    test(name, async () => {
      let called = false;
      await withServer(
        () => {
          called = true;
          return new Response("no");
        },
        {},
        async (_server, connect) => {
          const client = await connect();
          await client.send(request);
          const response = await client.readResponse();
          assert.equal(response.status, status);
          assert.equal(response.headers.get("connection"), "close");
          assert.equal(await client.readToEnd(), "");
          assert.equal(called, false);
        },
      );
    });
  }

  test("a bad upgrade (version 8) -> 426 with Sec-WebSocket-Version: 13", async () => {
    await withServer(
      (request) => upgradeWebSocket(request).response,
      {},
      async (_server, connect) => {
        const client = await connect();
        await client.send(
          "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        );
        const response = await client.readResponse();
        assert.equal(response.status, 426);
        assert.equal(response.headers.get("sec-websocket-version"), "13");
      },
    );
  });

  test("upgradeWebSocket on a foreign Request throws TypeError", () => {
    assert.throws(() => upgradeWebSocket(new Request("http://a/")), TypeError);
  });
});

describe("serve: lifecycle", () => {
  test("shutdown() closes idle connections and settles finished", async () => {
    const server = startServer(() => new Response("ok"));
    const client = await RawClient.connect(server);
    try {
      await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
      assert.equal((await client.readResponse()).body, "ok");
      await server.shutdown();
      await server.finished;
      assert.equal(await client.readToEnd(), "");
      await assert.rejects(RawClient.connect(server));
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  test("shutdown() lets an in-flight response finish", async () => {
    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => entered = resolve);
    let release!: () => void;
    const released = new Promise<void>((resolve) => release = resolve);
    const server = startServer(async () => {
      entered();
      await released;
      return new Response("late but complete");
    });
    const client = await RawClient.connect(server);
    try {
      await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
      await handlerEntered;
      const shutdown = server.shutdown();
      release();
      const response = await client.readResponse();
      assert.equal(response.body, "late but complete");
      assert.equal(response.headers.get("connection"), "close");
      await shutdown;
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  test("shutdownTimeout bounds a handler that never returns", async () => {
    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => entered = resolve);
    let sawAbort = false;
    const server = startServer((request) => {
      entered();
      return new Promise<Response>((resolve) => {
        request.signal.addEventListener("abort", () => {
          sawAbort = true;
          resolve(new Response("too late"));
        });
      });
    }, { shutdownTimeout: 100 });
    const client = await RawClient.connect(server);
    try {
      await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
      await handlerEntered;
      await server.shutdown();
      assert.equal(sawAbort, true);
      assert.equal(await client.readToEnd(), "");
    } finally {
      client.close();
    }
  });

  test("aborting the signal shuts the server down", async () => {
    const controller = new AbortController();
    const server = startServer(() => new Response("ok"), {
      signal: controller.signal,
    });
    try {
      const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      assert.equal(await response.text(), "ok");
      controller.abort();
      await server.finished;
      await assert.rejects(RawClient.connect(server));
    } finally {
      await server.shutdown();
    }
  });
});

// ---------------------------------------------------------------- upgrades

const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; // RFC 6455 section 1.3

function upgradeHead(extra = ""): string {
  return "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** A masked client frame with a payload under 126 bytes. */
function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
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

describe("serve: WebSocket upgrades", () => {
  const echo: ServeHandler = (request) => {
    const { socket, response } = upgradeWebSocket(request, {
      protocol: "chat",
    });
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  };

  test("101 with the accept key; bytes sent with the head reach the socket", async () => {
    await withServer(echo, {}, async (_server, connect) => {
      const client = await connect();
      const head = encoder.encode(upgradeHead());
      const frame = clientFrame(0x1, encoder.encode("early"));
      const both = new Uint8Array(head.length + frame.length);
      both.set(head);
      both.set(frame, head.length);
      await client.send(both); // the frame arrives in the same segment as the head
      const response = await client.readResponse(true);
      assert.equal(response.status, 101);
      assert.equal(response.headers.get("sec-websocket-accept"), RFC_ACCEPT);
      assert.equal(response.headers.get("upgrade"), "websocket");
      assert.equal(response.headers.has("sec-websocket-protocol"), false);
      assert.deepEqual(await client.readFrame(), {
        opcode: 0x1,
        payload: "early",
      });
    });
  });

  test("the subprotocol is selected only when offered", async () => {
    await withServer(echo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(
        upgradeHead("Sec-WebSocket-Protocol: superchat, chat\r\n"),
      );
      const response = await client.readResponse(true);
      assert.equal(response.status, 101);
      assert.equal(response.headers.get("sec-websocket-protocol"), "chat");
      await client.send(clientFrame(0x1, encoder.encode("after")));
      assert.deepEqual(await client.readFrame(), {
        opcode: 0x1,
        payload: "after",
      });
    });
  });

  test("shutdown() closes open WebSockets with 1001 and waits for them", async () => {
    let closed: Promise<number> | undefined;
    const handler: ServeHandler = (request) => {
      const { socket, response } = upgradeWebSocket(request);
      closed = new Promise((resolve) =>
        socket.onclose = (event) => resolve((event as CloseEvent).code)
      );
      return response;
    };
    await withServer(handler, {}, async (server, connect) => {
      const client = await connect();
      await client.send(upgradeHead());
      assert.equal((await client.readResponse(true)).status, 101);
      const shutdown = server.shutdown();
      const close = await client.readFrame();
      assert.equal(close.opcode, 0x8);
      assert.equal(close.code, 1001);
      await client.send(clientFrame(0x8, new Uint8Array([0x03, 0xe9])));
      await shutdown;
      assert.equal(await closed, 1001);
      assert.equal(await client.readToEnd(), "");
    });
  });

  test("a handler that upgrades but returns another response fails the socket", async () => {
    let closeCode: Promise<number> | undefined;
    const handler: ServeHandler = (request) => {
      const { socket } = upgradeWebSocket(request);
      closeCode = new Promise((resolve) =>
        socket.onclose = (event) => resolve((event as CloseEvent).code)
      );
      socket.onerror = () => {};
      return new Response("changed my mind", { status: 403 });
    };
    await withServer(handler, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(upgradeHead());
      const response = await client.readResponse();
      assert.equal(response.status, 403);
      assert.equal(response.body, "changed my mind");
      assert.equal(await closeCode, 1006);
    });
  });

  test("a handler that throws after upgrading gives 500 and fails the socket", async () => {
    let closeCode: Promise<number> | undefined;
    const handler: ServeHandler = (request) => {
      const { socket } = upgradeWebSocket(request);
      closeCode = new Promise((resolve) =>
        socket.onclose = (event) => resolve((event as CloseEvent).code)
      );
      socket.onerror = () => {};
      throw new Error("after upgrade");
    };
    await withServer(handler, {}, async (_server, connect) => {
      const logged = await capturingErrors(async () => {
        const client = await connect();
        await client.send(upgradeHead());
        assert.equal((await client.readResponse()).status, 500);
        assert.equal(await closeCode, 1006);
      });
      assert.equal(logged.length, 1);
    });
  });
});

// ---------------------------------------------------------------- TLS

// A self-signed P-256 certificate for localhost and 127.0.0.1, valid until
// 2125, made for these tests with `openssl req -x509 -newkey ec ...`.
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmDCCAT6gAwIBAgIUUxbd8+rhzg3pb3vYwTSDZ5O6dU8wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjAwNTYxNloYDzIxMjYxMTAy
MDA1NjE2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATvc0Q/ilB5R1xN0GL10A7lfX6Gu5F5ZjE+kvfS4f/UNg/l4T0Z4UF5
rO4rCIXmuhvLoQ317Rrrvk9zQg7x/utAo2wwajAdBgNVHQ4EFgQUoFeFuGu1gN2g
JPYNfxKhYR4rgZUwHwYDVR0jBBgwFoAUoFeFuGu1gN2gJPYNfxKhYR4rgZUwGgYD
VR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMAwGA1UdEwEB/wQCMAAwCgYIKoZIzj0E
AwIDSAAwRQIge1ufcro/nU9OQRtEpQOGrNZZVqXoNjvTsPNpXahy+/cCIQDPZBSe
jwCz/qoGgxXWJwO5xA5+pBJIwvgbcdTif8IYog==
-----END CERTIFICATE-----
`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglof8u2blCAK6LWsD
k1MiSPbmEeFNVWFDCnNUVvPP3OehRANCAATvc0Q/ilB5R1xN0GL10A7lfX6Gu5F5
ZjE+kvfS4f/UNg/l4T0Z4UF5rO4rCIXmuhvLoQ317Rrrvk9zQg7x/utA
-----END PRIVATE KEY-----
`;

describe("serve: TLS", () => {
  test("cert and key make an https server", async () => {
    const server = startServer(echoInfo, { cert: TEST_CERT, key: TEST_KEY });
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: server.addr.port,
      caCerts: [TEST_CERT],
    });
    const client = new RawClient(conn);
    try {
      await client.send("GET /secure HTTP/1.1\r\nHost: localhost\r\n\r\n");
      const response = await client.readResponse();
      assert.equal(response.body, "GET /secure ");
      assert.equal(response.headers.get("x-url"), "https://localhost/secure");
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  test("cert without key is refused", () => {
    assert.throws(() => startServer(echoInfo, { cert: TEST_CERT }), TypeError);
  });
});
