// Deno only: the server's defences over real sockets. `origins` refuses a
// cross-site handshake with 403 before any socket exists; the per-client
// caps refuse past their limit and admit again after; proxy headers are
// believed only from trustedProxies.
import assert from "node:assert/strict";
import {
  ForbiddenOriginError,
  type ServeHandler,
  type ServeHandlerInfo,
  ServerError,
  type UpgradeOptions,
  upgradeWebSocket,
} from "../../mod.ts";
import {
  clientFrame,
  describe,
  type RawClient,
  test,
  withServer,
} from "../support/server_deno.ts";

const encoder = new TextEncoder();

function handshake(extra: Record<string, string> = {}): string {
  let head =
    "GET /ws HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  for (const [name, value] of Object.entries(extra)) {
    head += `${name}: ${value}\r\n`;
  }
  return head + "\r\n";
}

/** An echo handler that counts the sockets it made. */
function echo(options: UpgradeOptions = {}): {
  handler: ServeHandler;
  sockets: () => number;
  closed: (count: number) => Promise<void>;
  infos: ServeHandlerInfo[];
} {
  let sockets = 0;
  let closed = 0;
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const infos: ServeHandlerInfo[] = [];
  return {
    infos,
    sockets: () => sockets,
    closed: (count) =>
      closed >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count, resolve })),
    handler: (request, info) => {
      infos.push(info);
      const { socket, response } = upgradeWebSocket(request, options);
      sockets++;
      socket.onmessage = (event) => socket.send(event.data);
      socket.onclose = () => {
        closed++;
        for (const waiter of waiters) {
          if (closed >= waiter.count) waiter.resolve();
        }
      };
      return response;
    },
  };
}

async function statusOf(client: RawClient, head: string): Promise<number> {
  await client.send(head);
  return (await client.readResponse()).status;
}

describe("origins: cross-site WebSocket hijacking", () => {
  const origins = ["https://chat.example", null];

  test("a foreign Origin gets 403, no socket, and an error on the server side", async () => {
    const seen: unknown[] = [];
    const app = echo({ origins });
    await withServer(app.handler, {
      onError(error) {
        seen.push(error);
        return new Response("unused", { status: 500 });
      },
    }, async (_server, connect) => {
      const client = await connect();
      await client.send(handshake({ Origin: "https://evil.example" }));
      const response = await client.readResponse();
      assert.equal(response.status, 403);
      assert.match(response.body, /"https:\/\/evil\.example" is not allowed/);
      assert.equal(app.sockets(), 0);
      assert.equal(seen.length, 1);
      assert.ok(seen[0] instanceof ServerError);
      assert.equal(seen[0].phase, "origin");
      assert.ok(seen[0].cause instanceof ForbiddenOriginError);
    });
  });

  test("an allowed Origin, in any spelling, upgrades", async () => {
    const app = echo({ origins });
    await withServer(app.handler, {}, async (_server, connect) => {
      for (
        const origin of ["https://chat.example", "https://CHAT.example:443"]
      ) {
        const client = await connect();
        assert.equal(
          await statusOf(client, handshake({ Origin: origin })),
          101,
        );
        client.close();
      }
      assert.equal(app.sockets(), 2);
    });
  });

  test("no Origin follows the option: admitted with null listed, refused without", async () => {
    const lenient = echo({ origins });
    await withServer(lenient.handler, {}, async (_server, connect) => {
      assert.equal(await statusOf(await connect(), handshake()), 101);
    });
    const strict = echo({ origins: ["https://chat.example"] });
    await withServer(strict.handler, {
      onError: () => new Response("unused"),
    }, async (_server, connect) => {
      assert.equal(await statusOf(await connect(), handshake()), 403);
      assert.equal(strict.sockets(), 0);
    });
  });
});

describe("per-client caps", () => {
  test("maxConnectionsPerAddress: 429 with Retry-After past it, admitted again once one closes", async () => {
    const app = echo();
    await withServer(
      app.handler,
      { maxConnectionsPerAddress: 2 },
      async (_server, connect) => {
        const first = await connect();
        const second = await connect();
        assert.equal(await statusOf(first, handshake()), 101);
        assert.equal(await statusOf(second, handshake()), 101);
        const third = await connect();
        const refused = await third.readResponse();
        assert.equal(refused.status, 429);
        assert.ok(Number(refused.headers.get("retry-after")) > 0);
        first.close();
        await app.closed(1); // the server saw it go
        assert.equal(await statusOf(await connect(), handshake()), 101);
      },
    );
  });

  test("maxHandshakesPerSecond: the handshake past the rate gets 429 with Retry-After", async () => {
    const app = echo();
    await withServer(
      app.handler,
      { maxHandshakesPerSecond: 2 },
      async (_server, connect) => {
        const statuses = [];
        for (let index = 0; index < 3; index++) {
          const client = await connect();
          await client.send(handshake());
          const response = await client.readResponse();
          statuses.push(response.status);
          if (response.status === 429) {
            assert.equal(response.headers.get("retry-after"), "1");
          }
        }
        assert.deepEqual(statuses, [101, 101, 429]);
        assert.equal(app.sockets(), 2);
      },
    );
  });

  test("maxMessagesPerSecond: the message past the rate fails the connection with 1008", async () => {
    const app = echo({ maxMessagesPerSecond: 3 });
    await withServer(app.handler, {}, async (_server, connect) => {
      const client = await connect();
      assert.equal(await statusOf(client, handshake()), 101);
      const burst = [1, 2, 3, 4].map((n) =>
        clientFrame(0x1, encoder.encode(`m${n}`))
      );
      const joined = new Uint8Array(
        burst.reduce((sum, frame) => sum + frame.length, 0),
      );
      let offset = 0;
      for (const frame of burst) {
        joined.set(frame, offset);
        offset += frame.length;
      }
      await client.send(joined);
      const echoes: string[] = [];
      for (;;) {
        const frame = await client.readFrame();
        if (frame.opcode === 0x8) {
          assert.equal(frame.code, 1008);
          assert.equal(frame.payload, "message rate limit");
          break;
        }
        echoes.push(frame.payload);
      }
      // What the handler sent before the failure goes out before the close.
      assert.deepEqual(echoes, ["m1", "m2", "m3"]);
    });
  });
});

describe("trustedProxies", () => {
  test("forwarding headers are believed only from a trusted proxy", async () => {
    const app = echo();
    const plain = (_request: Request, info: ServeHandlerInfo) =>
      new Response(info.clientAddress);
    const request =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n";
    await withServer(plain, {}, async (_server, connect) => {
      const client = await connect();
      await client.send(request);
      assert.equal((await client.readResponse()).body, "127.0.0.1");
    });
    await withServer(
      plain,
      { trustedProxies: ["127.0.0.1"] },
      async (_server, connect) => {
        const client = await connect();
        await client.send(request);
        assert.equal((await client.readResponse()).body, "203.0.113.7");
      },
    );
    assert.equal(app.sockets(), 0);
  });

  test("behind a trusted proxy the caps count each forwarded client", async () => {
    const app = echo();
    await withServer(app.handler, {
      trustedProxies: ["127.0.0.1"],
      maxConnectionsPerAddress: 1,
    }, async (_server, connect) => {
      const via = (client: string) => handshake({ "X-Forwarded-For": client });
      assert.equal(await statusOf(await connect(), via("203.0.113.1")), 101);
      assert.equal(await statusOf(await connect(), via("203.0.113.2")), 101);
      assert.equal(await statusOf(await connect(), via("203.0.113.1")), 429);
      assert.deepEqual(
        app.infos.map((info) => info.clientAddress),
        ["203.0.113.1", "203.0.113.2", "203.0.113.1"],
      );
    });
  });
});
