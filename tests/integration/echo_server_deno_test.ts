// The echo server of `deno task serve` (echo_server.ts), started in process
// on 127.0.0.1 port 0 and driven by Deno's built-in WebSocket client, by
// fetch, by raw TCP for what fetch cannot send, and by the interop suite's
// web peer (tests/peers/web_peer.js), so the server keeps the interop
// conventions of tests/peers/echo_server.ts.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type EchoServer,
  parseCloseCommand,
  startEchoServer,
} from "../../examples/echo/server.ts";
import { runBounded, withDeadline } from "../interop/peers/bounded.ts";

/** How long one socket or HTTP step may take. */
const STEP_MS = 10_000;

const WEB_PEER = fileURLToPath(
  new URL("../interop/peers/web_peer.js", import.meta.url),
);
const STATIC_DIR = new URL("../../examples/echo/static/", import.meta.url);

/** A client that queues what arrives so a test can await it in order. */
interface TestClient {
  socket: WebSocket;
  opened: Promise<void>;
  closed: Promise<CloseEvent>;
  next(): Promise<string | ArrayBuffer>;
}

function connectClient(url: string, protocols?: string[]): TestClient {
  const socket = new WebSocket(url, protocols);
  socket.binaryType = "arraybuffer";
  const arrived: Array<string | ArrayBuffer> = [];
  const waiting: Array<(data: string | ArrayBuffer) => void> = [];
  socket.onmessage = (event) => {
    const waiter = waiting.shift();
    if (waiter === undefined) arrived.push(event.data);
    else waiter(event.data);
  };
  const opened = new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("the connection failed"));
  });
  const closed = new Promise<CloseEvent>((resolve) => {
    socket.onclose = (event) => resolve(event);
  });
  opened.catch(() => {});
  return {
    socket,
    opened: withDeadline(opened, STEP_MS, "opening"),
    closed: withDeadline(closed, STEP_MS, "closing"),
    next(): Promise<string | ArrayBuffer> {
      const data = arrived.shift();
      if (data !== undefined) return Promise.resolve(data);
      return withDeadline(
        new Promise((resolve) => waiting.push(resolve)),
        STEP_MS,
        "waiting for a message",
      );
    },
  };
}

/** Log lines, and a way to await one that matches. */
class LogRecorder {
  readonly lines: string[] = [];
  #waiters: Array<{ match: (line: string) => boolean; done: () => void }> = [];

  readonly log = (line: string): void => {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.match(line)) return true;
      waiter.done();
      return false;
    });
  };

  waitFor(match: (line: string) => boolean, what: string): Promise<void> {
    if (this.lines.some(match)) return Promise.resolve();
    const found = new Promise<void>((done) => {
      this.#waiters.push({ match, done });
    });
    return withDeadline(found, STEP_MS, `waiting for the log line ${what}`);
  }
}

/** Sends `request` over a new TCP connection and returns the response head. */
async function rawRequest(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buffer = new Uint8Array(16 * 1024);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const count = await withDeadline(conn.read(buffer), STEP_MS, "reading");
      if (count === null) break;
      head += new TextDecoder().decode(buffer.subarray(0, count));
    }
    return head;
  } finally {
    conn.close();
  }
}

describe("echo server commands", () => {
  test("parses close:<code>:<reason> commands", () => {
    assert.deepEqual(parseCloseCommand("close:4001:bye: now"), {
      code: 4001,
      reason: "bye: now",
    });
    assert.deepEqual(parseCloseCommand("close:1000"), {
      code: 1000,
      reason: "",
    });
    assert.equal(parseCloseCommand("close::x"), null);
    assert.equal(parseCloseCommand("closed:1000"), null);
    assert.equal(parseCloseCommand("close:abc:x"), null);
  });
});

describe("echo server over WebSocket and HTTP", () => {
  let server: EchoServer | undefined;
  const recorder = new LogRecorder();

  before(async () => {
    server = await startEchoServer({
      hostname: "127.0.0.1",
      port: 0,
      log: recorder.log,
    });
  });

  after(async () => {
    await withDeadline(
      server?.shutdown() ?? Promise.resolve(),
      15_000,
      "shutdown",
    );
  });

  function httpUrl(path = "/"): string {
    assert.ok(server, "the server did not start");
    return `http://127.0.0.1:${server.addr.port}${path}`;
  }

  function wsUrl(path = "/"): string {
    assert.ok(server, "the server did not start");
    return `ws://127.0.0.1:${server.addr.port}${path}`;
  }

  test("listens on 127.0.0.1 with a real port and logs where", () => {
    assert.ok(server);
    assert.equal(server.addr.hostname, "127.0.0.1");
    assert.ok(server.addr.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.addr.port}/`);
    assert.ok(
      recorder.lines.some((line) => line.includes(server?.url ?? "?")),
      "the listening address is logged",
    );
  });

  test("echoes text as text and binary as binary", async () => {
    const client = connectClient(wsUrl());
    await client.opened;
    client.socket.send("Hello, w\u00f6rld \u2603");
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    client.socket.send(bytes);
    client.socket.send("");
    assert.equal(await client.next(), "Hello, w\u00f6rld \u2603");
    const binary = await client.next();
    assert.ok(binary instanceof ArrayBuffer, "binary comes back as binary");
    assert.deepEqual(new Uint8Array(binary), bytes);
    assert.equal(await client.next(), "");
    client.socket.close(1000);
    const closed = await client.closed;
    assert.equal(closed.code, 1000);
    assert.equal(closed.wasClean, true);
  });

  test("selects the subprotocol chat only when offered", async () => {
    const offered = connectClient(wsUrl(), ["superchat", "chat"]);
    await offered.opened;
    assert.equal(offered.socket.protocol, "chat");
    offered.socket.close();
    await offered.closed;
    const plain = connectClient(wsUrl());
    await plain.opened;
    assert.equal(plain.socket.protocol, "");
    plain.socket.close();
    await plain.closed;
  });

  test("close:<code>:<reason> makes the server close; connect and disconnect are logged", async () => {
    const client = connectClient(wsUrl(), ["chat"]);
    await client.opened;
    client.socket.send("close:4001:server bye \u2603");
    const closed = await client.closed;
    assert.equal(closed.code, 4001);
    assert.equal(closed.reason, "server bye \u2603");
    assert.equal(closed.wasClean, true);
    await recorder.waitFor(
      (line) =>
        line.startsWith("disconnect 127.0.0.1:") && line.includes("4001"),
      "disconnect ... 4001",
    );
    assert.ok(
      recorder.lines.some((line) =>
        /^connect 127\.0\.0\.1:\d+ \(subprotocol: chat\)$/.test(line)
      ),
      `a connect line with the remote address: ${recorder.lines.join(" | ")}`,
    );
    const disconnect = recorder.lines.find((line) => line.includes("4001"));
    assert.match(disconnect ?? "", /code 4001 reason "server bye \u2603"/);
  });

  test("ping:<payload> makes the server ping and report the pong", async () => {
    const client = connectClient(wsUrl());
    await client.opened;
    client.socket.send("ping:are you there");
    assert.equal(await client.next(), "pong:are you there");
    client.socket.close();
    await client.closed;
  });

  test("a close command with a code that may not be sent is answered, not obeyed", async () => {
    const client = connectClient(wsUrl());
    await client.opened;
    client.socket.send("close:1005:no");
    const reply = await client.next();
    assert.equal(typeof reply, "string");
    assert.match(reply as string, /^cannot close: /);
    assert.equal(client.socket.readyState, WebSocket.OPEN);
    client.socket.close();
    await client.closed;
  });

  test("refuses a WebSocket upgrade on any other path with 403", async () => {
    assert.ok(server);
    const head = await rawRequest(
      server.addr.port,
      "GET /reject HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert.match(head, /^HTTP\/1\.1 403 /);
  });

  test("GET / returns the page", async () => {
    const response = await fetch(httpUrl("/"));
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get("content-type"),
      "text/html; charset=utf-8",
    );
    const html = await response.text();
    assert.match(html, /<title>WebSocket frames, byte by byte/);
    assert.match(html, /<script type="module" src="\/app.js"><\/script>/);
    assert.match(html, /<link rel="stylesheet" href="\/style.css">/);
    assert.equal(
      html,
      await Deno.readTextFile(new URL("index.html", STATIC_DIR)),
    );
    assert.ok(response.headers.get("content-security-policy"));
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  });

  test("serves the scripts and the style sheet with their types", async () => {
    const expected = new Map([
      ["/codec.js", ["codec.js", "text/javascript; charset=utf-8"]],
      ["/app.js", ["app.js", "text/javascript; charset=utf-8"]],
      ["/style.css", ["style.css", "text/css; charset=utf-8"]],
    ]);
    for (const [path, [file, type]] of expected) {
      const response = await fetch(httpUrl(path));
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get("content-type"), type, path);
      const body = await response.text();
      assert.equal(body, await Deno.readTextFile(new URL(file, STATIC_DIR)));
    }
    const codec = await (await fetch(httpUrl("/codec.js"))).text();
    assert.match(codec, /export \{/, "codec.js is an ES module");
    assert.match(codec, /describeFrame/);
  });

  test("answers 404 for any other path, with no way out of static/", async () => {
    for (const path of ["/nope", "/index.html", "/static/app.js", "/app.js/"]) {
      const response = await fetch(httpUrl(path));
      await response.body?.cancel();
      assert.equal(response.status, 404, path);
    }
    assert.ok(server);
    for (
      const path of ["/../deno.json", "/%2e%2e/echo_server.ts", "//etc/passwd"]
    ) {
      const head = await rawRequest(
        server.addr.port,
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      assert.match(head, /^HTTP\/1\.1 (400|404) /, path);
    }
  });

  test("answers 405 to other methods on a page path", async () => {
    const response = await fetch(httpUrl("/"), { method: "POST", body: "x" });
    await response.body?.cancel();
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "GET, HEAD");
  });

  test("keeps the interop conventions, checked by the interop web peer", async () => {
    assert.ok(server);
    const checks = [
      "text-unicode",
      "binary-65536",
      "ordering",
      "server-ping",
      "client-close",
      "server-close",
      "subprotocol",
      "subprotocol-none",
      "rejected",
    ];
    const result = await runBounded(Deno.execPath(), [
      "run",
      "--allow-net",
      "--no-config",
      WEB_PEER,
      `ws://127.0.0.1:${server.addr.port}`,
      checks.join(","),
    ], 60_000);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    const report = JSON.parse(lines[lines.length - 1]);
    const seen = report.results;
    assert.deepEqual(seen["text-unicode"], {
      type: "text",
      bytes: 22,
      identical: true,
    });
    assert.equal(seen["binary-65536"].identical, true);
    assert.equal(seen["binary-65536"].type, "binary");
    assert.deepEqual(seen.ordering, { count: 100, inOrder: true });
    assert.equal(seen["server-ping"].reply, "pong:web-peer");
    assert.equal(seen["client-close"].code, 4000);
    assert.equal(seen["client-close"].clean, true);
    assert.equal(seen["server-close"].code, 4001);
    assert.equal(seen["server-close"].reason, "server bye \u2603");
    assert.equal(seen.subprotocol.protocol, "chat");
    assert.equal(seen["subprotocol-none"].protocol, "");
    assert.equal(seen.rejected.opened, false);
  });
});

describe("echo server shutdown", () => {
  test("closes open sockets with 1001, logs it and stops listening", async () => {
    const recorder = new LogRecorder();
    const server = await startEchoServer({
      hostname: "127.0.0.1",
      port: 0,
      log: recorder.log,
    });
    const port = server.addr.port;
    let client: TestClient | undefined;
    try {
      client = connectClient(`ws://127.0.0.1:${port}/`);
      await client.opened;
      await recorder.waitFor((line) => line.startsWith("connect "), "connect");
    } finally {
      await withDeadline(server.shutdown(), 15_000, "shutdown");
    }
    const closed = await client.closed;
    assert.equal(closed.code, 1001);
    assert.equal(closed.wasClean, true);
    await withDeadline(server.finished, STEP_MS, "finished");
    await recorder.waitFor(
      (line) => line.startsWith("disconnect ") && line.includes("code 1001"),
      "disconnect ... code 1001",
    );
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port }),
      "nothing listens after shutdown",
    );
  });

  test("startEchoServer with log: false writes nothing and still serves", async () => {
    const logged: unknown[] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => logged.push(args);
    let server: EchoServer | undefined;
    try {
      server = await startEchoServer({
        hostname: "127.0.0.1",
        port: 0,
        log: false,
      });
      const client = connectClient(`ws://127.0.0.1:${server.addr.port}/`);
      await client.opened;
      client.socket.send("quiet");
      assert.equal(await client.next(), "quiet");
      client.socket.close();
      await client.closed;
    } finally {
      await withDeadline(
        server?.shutdown() ?? Promise.resolve(),
        15_000,
        "shutdown",
      );
      console.log = original;
    }
    assert.deepEqual(logged, []);
  });
});
