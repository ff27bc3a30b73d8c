// Deno only: connect() against this library's serve() + upgradeWebSocket,
// against raw TCP servers written here (timeouts, aborts, bad answers,
// leftover bytes, masking), and over TLS. Servers nobody here wrote are in
// client_interop_deno_test.ts. Bun's run excludes tests/*_deno_test.ts.
import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import { HandshakeError } from "../../errors.ts";
import {
  serve,
  type ServeHandler,
  type ServeOptions,
  upgradeWebSocket,
} from "../../mod.ts";
import { startRfc6455EchoServer } from "../interop/peers/rfc6455_echo_server.ts";
import {
  closeAndWait,
  defineClientChecks,
} from "../support/client_checks_deno.ts";
import {
  decoder,
  describe,
  encoder,
  patternBytes,
  serverFrame,
  test,
  withRawServer,
} from "../support/client_deno.ts";
import { nextEvent } from "../support/websocket.ts";
import { TEST_CERT, TEST_KEY } from "../support/test_cert.ts";
import { DEFAULTS } from "../../defaults.ts";

defineClientChecks("this library's serve()", startRfc6455EchoServer);

/** Runs `body` with serve() on 127.0.0.1:0, always shutting it down. */
async function withServe(
  handler: ServeHandler,
  body: (origin: string) => Promise<void>,
  options: ServeOptions = {},
): Promise<void> {
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...options },
    handler,
  );
  try {
    const scheme = options.cert === undefined ? "ws" : "wss";
    await body(`${scheme}://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

/** Expects `promise` to reject with a HandshakeError of `status` whose
 * message contains `fragment`; returns the error. */
async function expectHandshakeError(
  promise: Promise<unknown>,
  status: number,
  fragment: string,
): Promise<HandshakeError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof HandshakeError, String(caught));
  assert.equal(caught.status, status, caught.message);
  assert.ok(
    caught.message.includes(fragment),
    `${JSON.stringify(caught.message)} should mention ${fragment}`,
  );
  return caught;
}

describe("connect() with this library's serve()", () => {
  test("the request carries the path, query and extra headers; url is set", async () => {
    let seen: Request | undefined;
    let serverClose: Promise<CloseEvent> | undefined;
    const handler: ServeHandler = (request) => {
      seen = request;
      const { socket, response } = upgradeWebSocket(request);
      serverClose = nextEvent<CloseEvent>(socket, "close");
      return response;
    };
    await withServe(handler, async (origin) => {
      const url = `${origin}/room/7?user=ann`;
      const socket = await connect(url.replace("ws:", "http:"), {
        headers: { Authorization: "Bearer t0ken", "X-Trace": "abc" },
      });
      assert.equal(socket.readyState, socket.OPEN);
      assert.equal(socket.url, url);
      assert.ok(seen !== undefined);
      assert.equal(new URL(seen.url).pathname, "/room/7");
      assert.equal(new URL(seen.url).search, "?user=ann");
      assert.equal(seen.headers.get("authorization"), "Bearer t0ken");
      assert.equal(seen.headers.get("x-trace"), "abc");
      socket.close(3001, "done");
      const event = await serverClose;
      assert.equal(event?.code, 3001, "the server saw the client's code");
      assert.equal(event?.reason, "done");
      await closeAndWait(socket);
    });
  });

  test("a 426 and a 302 reject with their status; the redirect is not followed", async () => {
    let upgrades = 0;
    const handler: ServeHandler = (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/old") {
        return new Response(null, {
          status: 302,
          headers: { Location: "/new" },
        });
      }
      if (path === "/new") upgrades++;
      return new Response("upgrade required", {
        status: 426,
        headers: { "Sec-WebSocket-Version": "13" },
      });
    };
    await withServe(handler, async (origin) => {
      const refused = await expectHandshakeError(
        connect(`${origin}/ws`),
        426,
        "426 Upgrade Required",
      );
      assert.ok(
        refused.headers.some(([name, value]) =>
          name.toLowerCase() === "sec-websocket-version" && value === "13"
        ),
        "the response's headers are on the error",
      );
      const redirected = await expectHandshakeError(
        connect(`${origin}/old`),
        302,
        'redirecting to "/new"; redirects are not followed',
      );
      assert.ok(
        redirected.headers.some(([name, value]) =>
          name.toLowerCase() === "location" && value === "/new"
        ),
      );
      assert.equal(upgrades, 0, "the client did not go to /new");
    });
  });

  test("invalid arguments reject before any connection", async () => {
    await assert.rejects(connect("ftp://127.0.0.1/"), TypeError);
    await assert.rejects(connect("ws://127.0.0.1/#frag"), TypeError);
    await assert.rejects(connect("not a url"), TypeError);
    await assert.rejects(
      connect("ws://127.0.0.1/", { protocols: ["a b"] }),
      TypeError,
    );
    await assert.rejects(
      connect("ws://127.0.0.1/", { headers: { Upgrade: "h2c" } }),
      TypeError,
    );
    await assert.rejects(
      connect("ws://127.0.0.1/", { handshakeTimeout: -1 }),
      RangeError,
    );
    await assert.rejects(
      connect("ws://127.0.0.1/", { maxMessageSize: Number.NaN }),
      RangeError,
    );
    const reason = new Error("already aborted");
    await assert.rejects(
      connect("ws://127.0.0.1/", { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
  });

  test("a closed port rejects with ConnectionRefused", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await assert.rejects(
      connect(`ws://127.0.0.1:${port}/`),
      Deno.errors.ConnectionRefused,
    );
  });

  test("the default handshake timeout is 10 seconds", () => {
    assert.equal(DEFAULTS.client.handshakeTimeout, 10_000);
  });
});

describe("connect() against raw TCP servers", () => {
  test("abort during the handshake rejects with the reason and closes TCP", async () => {
    await withRawServer(async (server) => {
      const controller = new AbortController();
      const connecting = connect(server.url, { signal: controller.signal });
      const peer = await server.accept();
      await peer.readRequestHead(); // and never answer
      const reason = new Error("the user gave up");
      controller.abort(reason);
      await assert.rejects(connecting, (error) => error === reason);
      assert.equal(await peer.readsToEnd(), true, "the client closed TCP");
    });
  });

  test("a server that never answers hits handshakeTimeout", async () => {
    await withRawServer(async (server) => {
      const connecting = connect(server.url, { handshakeTimeout: 100 });
      const peer = await server.accept();
      await assert.rejects(connecting, (error: unknown) => {
        assert.ok(error instanceof DOMException, String(error));
        assert.equal(error.name, "TimeoutError");
        assert.match(error.message, /longer than 100 ms/);
        return true;
      });
      assert.equal(await peer.readsToEnd(), true, "the client closed TCP");
    });
  });

  test("a TLS handshake that never completes hits handshakeTimeout", async () => {
    await withRawServer(async (server) => {
      const connecting = connect(`wss://127.0.0.1:${server.port}/`, {
        handshakeTimeout: 100,
        caCerts: [TEST_CERT],
      });
      const peer = await server.accept(); // a TCP server that speaks no TLS
      await assert.rejects(
        connecting,
        (error) =>
          error instanceof DOMException && error.name === "TimeoutError",
      );
      // Not checked: that TCP ends at once. Deno finishes a TLS handshake
      // before it shuts a connection down, so the socket stays open until
      // the server gives up (here: when the test closes the peer).
      peer.close();
    });
  });

  test("the request head is a valid upgrade request", async () => {
    await withRawServer(async (server) => {
      const connecting = connect(`${server.url}/path?q=1`, {
        protocols: ["one", "two"],
        extensions: "x-test; a=1",
        handshakeTimeout: 100,
      });
      const peer = await server.accept();
      const { requestLine, headers } = await peer.readRequestHead();
      assert.equal(requestLine, "GET /path?q=1 HTTP/1.1");
      assert.equal(headers.get("host"), `127.0.0.1:${server.port}`);
      assert.equal(headers.get("upgrade"), "websocket");
      assert.equal(headers.get("connection"), "Upgrade");
      assert.equal(headers.get("sec-websocket-version"), "13");
      assert.equal(headers.get("sec-websocket-protocol"), "one, two");
      assert.equal(headers.get("sec-websocket-extensions"), "x-test; a=1");
      const key = headers.get("sec-websocket-key") ?? "";
      assert.equal(atob(key).length, 16);
      await assert.rejects(connecting, DOMException);
    });
  });

  test("a wrong Sec-WebSocket-Accept rejects and closes TCP", async () => {
    await withRawServer(async (server) => {
      const connecting = connect(server.url);
      const peer = await server.accept();
      await peer.readRequestHead();
      await peer.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\n" +
          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
      );
      await expectHandshakeError(connecting, 101, "Sec-WebSocket-Accept");
      assert.equal(await peer.readsToEnd(), true);
    });
  });

  test("a subprotocol or extension that was not offered rejects", async () => {
    await withRawServer(async (server) => {
      const cases = [
        {
          options: {},
          extra: "Sec-WebSocket-Protocol: chat\r\n",
          error: "none was offered",
        },
        {
          options: { protocols: ["a"] },
          extra: "Sec-WebSocket-Protocol: b\r\n",
          error: "not offered",
        },
        {
          options: {},
          extra: "Sec-WebSocket-Extensions: x-test\r\n",
          error: "unoffered extension",
        },
        // Offered and accepted, but the socket runs no extension yet.
        {
          options: { extensions: "x-test" },
          extra: "Sec-WebSocket-Extensions: x-test\r\n",
          error: "cannot run yet",
        },
      ];
      for (const { options, extra, error } of cases) {
        const connecting = connect(server.url, options);
        const peer = await server.accept();
        await peer.acceptUpgrade(extra);
        await expectHandshakeError(connecting, 101, error);
        assert.equal(await peer.readsToEnd(), true);
      }
    });
  });

  test("an extension offered and declined leaves socket.extensions empty", async () => {
    await withRawServer(async (server) => {
      const connecting = connect(server.url, { extensions: "x-test" });
      const peer = await server.accept();
      await peer.acceptUpgrade();
      const socket = await connecting;
      assert.equal(socket.extensions, "");
      const closed = nextEvent<CloseEvent>(socket, "close");
      socket.close();
      assert.equal((await peer.readFrame()).opcode, 0x8);
      await peer.write(serverFrame(0x8, new Uint8Array(0)));
      peer.close();
      assert.equal((await closed).code, 1005);
    });
  });

  test("a closed connection or an oversized head before the answer rejects", async () => {
    await withRawServer(async (server) => {
      let connecting = connect(server.url);
      let peer = await server.accept();
      await peer.readRequestHead();
      await peer.write("HTTP/1.1 101 Switching");
      peer.close();
      await assert.rejects(connecting, (error: unknown) => {
        assert.ok(error instanceof HandshakeError, String(error));
        assert.equal(error.status, 0);
        assert.match(error.message, /in the middle of its handshake response/);
        return true;
      });

      connecting = connect(server.url);
      peer = await server.accept();
      await peer.readRequestHead();
      // The write may fail once the client gave up; the rejection is what counts.
      const huge = "HTTP/1.1 101 OK\r\nX: " + "v".repeat(20_000) + "\r\n\r\n";
      peer.write(huge).catch(() => {});
      await expectHandshakeError(connecting, 101, "exceeds 16384 bytes");
      assert.equal(await peer.readsToEnd(), true);
    });
  });

  test("frames in the same write as the 101 reach handlers set after connect()", async () => {
    await withRawServer(async (server) => {
      const connecting = connect(server.url);
      const peer = await server.accept();
      const text = serverFrame(0x1, encoder.encode("early \u2603"));
      const binary = serverFrame(0x2, patternBytes(70_000));
      const both = new Uint8Array(text.length + binary.length);
      both.set(text);
      both.set(binary, text.length);
      await peer.acceptUpgrade("", both); // one write: head and both frames
      const socket = await connecting;
      socket.binaryType = "arraybuffer";
      const received: unknown[] = [];
      const twoMessages = new Promise<void>((resolve) => {
        socket.onmessage = (event) => {
          received.push(event.data);
          if (received.length === 2) resolve();
        };
      });
      await twoMessages;
      assert.equal(received[0], "early \u2603");
      assert.ok(received[1] instanceof ArrayBuffer);
      assert.deepEqual(new Uint8Array(received[1]), patternBytes(70_000));
      const closed = nextEvent<CloseEvent>(socket, "close");
      await peer.write(serverFrame(0x8, new Uint8Array([0x03, 0xe8])));
      assert.equal((await peer.readFrame()).opcode, 0x8, "the close echo");
      peer.close();
      const event = await closed;
      assert.equal(event.code, 1000);
      assert.equal(event.wasClean, true);
    });
  });

  test("client frames are masked and the client waits for the server to end TCP", async () => {
    await withRawServer(async (server) => {
      const connecting = connect(server.url);
      const peer = await server.accept();
      await peer.acceptUpgrade();
      const socket = await connecting;
      socket.send("hello");
      socket.send(patternBytes(70_000));
      const text = await peer.readFrame();
      assert.equal(text.masked, true);
      assert.equal(text.fin, true);
      assert.equal(text.opcode, 0x1);
      assert.equal(decoder.decode(text.payload), "hello");
      const binary = await peer.readFrame();
      assert.equal(binary.masked, true);
      assert.equal(binary.opcode, 0x2);
      assert.deepEqual(binary.payload, patternBytes(70_000));
      assert.notDeepEqual(
        [text.maskKey, binary.maskKey],
        [new Uint8Array(4), new Uint8Array(4)],
        "mask keys are random, not zero",
      );

      let closeEvents = 0;
      socket.addEventListener("close", () => closeEvents++);
      socket.close(1000, "bye");
      const close = await peer.readFrame();
      assert.equal(close.masked, true);
      assert.equal(close.opcode, 0x8);
      assert.deepEqual([...close.payload.subarray(0, 2)], [0x03, 0xe8]);
      const closed = nextEvent<CloseEvent>(socket, "close");
      await peer.write(serverFrame(0x8, close.payload));
      // The client got the echo but keeps TCP open for the server to end.
      assert.equal(closeEvents, 0);
      peer.close();
      const event = await closed;
      assert.equal(event.code, 1000);
      assert.equal(event.reason, "bye");
      assert.equal(event.wasClean, true);
    });
  });
});

describe("connect() over TLS", () => {
  const tlsOptions: ServeOptions = { cert: TEST_CERT, key: TEST_KEY };
  const echo: ServeHandler = (request) => {
    const { socket, response } = upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  };

  test("wss:// with caCerts echoes, by IP address and by host name", async () => {
    await withServe(echo, async (origin) => {
      const port = new URL(origin).port;
      for (const host of ["127.0.0.1", "localhost"]) {
        const socket = await connect(`wss://${host}:${port}/secure`, {
          caCerts: [TEST_CERT],
        });
        assert.equal(socket.url, `wss://${host}:${port}/secure`);
        const reply = nextEvent<MessageEvent>(socket, "message");
        socket.send("over tls");
        assert.equal((await reply).data, "over tls");
        await closeAndWait(socket);
      }
    }, tlsOptions);
  });

  test("wss:// without the certificate's root rejects with the certificate error", async () => {
    await withServe(echo, async (origin) => {
      await assert.rejects(connect(`${origin}/`), (error: unknown) => {
        assert.ok(!(error instanceof HandshakeError));
        assert.match(String(error), /certificate/i);
        return true;
      });
    }, tlsOptions);
  });
});
