// Deno only: real sockets through Deno.listen / Deno.connect. Bun's run
// excludes tests/*_deno_test.ts. Plain HTTP, refusals and the lifecycle;
// upgrades and TLS are in server_upgrade_deno_test.ts.
import assert from "node:assert/strict";
import { type ServeHandler, upgradeWebSocket } from "../../mod.ts";
import {
  capturingErrors,
  describe,
  echoInfo,
  encoder,
  RawClient,
  startServer,
  test,
  withServer,
} from "../support/server_deno.ts";
import { DEFAULTS } from "../../defaults.ts";

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

  test("a body over DEFAULTS.limits.maxBodyBytes -> 413 and close", async () => {
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

  test("a head over DEFAULTS.limits.maxHeadBytes -> 431", async () => {
    await withServer(echoInfo, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(
        `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${
          "b".repeat(DEFAULTS.limits.maxHeadBytes)
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
