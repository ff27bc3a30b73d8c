// Deno only: the Deno.serve features a program ported with only its import
// changed relies on: the one-argument form, info.completed, ref()/unref(),
// `await using`, and a clear failure when Deno.upgradeWebSocket is mixed in.
import assert from "node:assert/strict";
import {
  serve,
  type ServeHandler,
  type ServeHandlerInfo,
  type ServeOptions,
  upgradeWebSocket,
} from "../../mod.ts";
import { serveNodeNet } from "../../node.ts";
import { describe, RawClient, test } from "../support/server_deno.ts";
import { runBounded } from "../interop/peers/bounded.ts";

const LISTEN = { port: 0, hostname: "127.0.0.1", onListen() {} } as const;

describe("serve() as Deno.serve", () => {
  test("serve({ ...options, handler }) serves, as serveNodeNet({ ...options, handler }) does", async () => {
    const server = serve({ ...LISTEN, handler: () => new Response("object") });
    const nodeServer = await serveNodeNet({
      ...LISTEN,
      handler: () => new Response("object too"),
    });
    try {
      const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      assert.equal(await answer.text(), "object");
      const other = await fetch(`http://127.0.0.1:${nodeServer.addr.port}/`);
      assert.equal(await other.text(), "object too");
    } finally {
      await server.shutdown();
      await nodeServer.shutdown();
    }
  });

  test("no handler at all is a TypeError before anything listens", () => {
    assert.throws(
      () =>
        serve(
          { ...LISTEN } as unknown as ServeOptions & { handler: ServeHandler },
        ),
      /a handler function is required/,
    );
  });

  test("info carries remoteAddr and a completed promise that resolves once the response is written", async () => {
    const infos: ServeHandlerInfo[] = [];
    const server = serve(LISTEN, (_request, info) => {
      infos.push(info);
      return new Response("body of the response");
    });
    try {
      const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      assert.equal(await answer.text(), "body of the response");
      assert.equal(infos.length, 1);
      assert.equal(infos[0].remoteAddr.hostname, "127.0.0.1");
      assert.equal(infos[0].remoteAddr.transport, "tcp");
      await infos[0].completed;
    } finally {
      await server.shutdown();
    }
  });

  test("info.completed resolves for an upgrade once the 101 is written", async () => {
    let completed: Promise<void> | undefined;
    const server = serve(LISTEN, (request, info) => {
      completed = info.completed;
      const { response } = upgradeWebSocket(request);
      return response;
    });
    try {
      const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
      await new Promise((resolve) => socket.onopen = resolve);
      assert.ok(completed !== undefined);
      await completed;
      const closed = new Promise((resolve) => socket.onclose = resolve);
      socket.close();
      await closed;
    } finally {
      await server.shutdown();
    }
  });

  test("await using shuts the server down at the end of the scope", async () => {
    let finished: Promise<void>;
    {
      await using server = serve(LISTEN, () => new Response("scoped"));
      finished = server.finished;
      const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      assert.equal(await answer.text(), "scoped");
    }
    await finished;
  });

  test("unref() lets a process exit while its server listens; ref() keeps it", async () => {
    const mod = new URL("../../mod.ts", import.meta.url).href;
    const script = (call: string) =>
      `import { serve } from "${mod}";
       const server = serve({ port: 0, hostname: "127.0.0.1", onListen() {} },
         () => new Response("x"));
       server.unref();
       ${call}
       console.log("listening");`;
    const unrefd = await runBounded(
      Deno.execPath(),
      ["eval", script("")],
      20_000,
    );
    assert.equal(unrefd.timedOut, false, "an unref'd server kept the process");
    assert.equal(unrefd.code, 0, unrefd.stderr);
    // With ref() the server keeps the process alive until an unref'd timer
    // (which alone would not keep it) fires and says so.
    const refd = await runBounded(
      Deno.execPath(),
      [
        "eval",
        script(`server.ref();
          Deno.unrefTimer(setTimeout(() => {
            console.log("still alive");
            Deno.exit(0);
          }, 200));`),
      ],
      20_000,
    );
    assert.equal(refd.code, 0, refd.stderr);
    assert.match(refd.stdout, /still alive/);
  });

  test("a 101 that upgradeWebSocket did not make (Deno.upgradeWebSocket's) fails with a message that names the fix", async () => {
    const seen: unknown[] = [];
    const server = serve({
      ...LISTEN,
      onError(error) {
        seen.push(error);
        return new Response("see onError", { status: 500 });
      },
    }, (request) => Deno.upgradeWebSocket(request).response);
    try {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.addr.port,
      });
      const client = new RawClient(conn);
      try {
        await client.send(
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n" +
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        );
        const response = await client.readResponse();
        assert.equal(response.status, 500);
      } finally {
        client.close();
      }
      assert.equal(seen.length, 1);
      assert.ok(seen[0] instanceof TypeError);
      assert.match(
        (seen[0] as Error).message,
        /upgradeWebSocket imported from @rfc6455\/websocket/,
      );
    } finally {
      await server.shutdown();
    }
  });
});
