// Deno only: the onError option of serve() and serveNodeNet(), over real
// sockets. A handler's error gets onError's response; the server's own
// failures reach onError as a ServerError whose response is ignored; the
// default logs once and answers 500.
import assert from "node:assert/strict";
import {
  type ServeHandler,
  type ServeOptions,
  type Server,
  ServerError,
} from "../../mod.ts";
import { serveNodeNet } from "../../node.ts";
import {
  capturingErrors,
  describe,
  type RawClient,
  startServer,
  test,
  withServer,
} from "../support/server_deno.ts";

type Start = (
  handler: ServeHandler,
  options: ServeOptions,
) => Server | Promise<Server>;

const SERVERS: ReadonlyArray<[string, Start]> = [
  ["serve", startServer],
  ["serveNodeNet", (handler, options) =>
    serveNodeNet(
      { port: 0, hostname: "127.0.0.1", onListen() {}, ...options },
      handler,
    )],
];

const REQUEST = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

/** An onError that records what it was given and answers 418. */
function recordingOnError(): {
  seen: unknown[];
  onError: (error: unknown) => Response;
} {
  const seen: unknown[] = [];
  return {
    seen,
    onError: (error) => {
      seen.push(error);
      return new Response("handled", { status: 418 });
    },
  };
}

async function requestOnce(
  connect: () => Promise<RawClient>,
): Promise<{ status: number; body: string }> {
  const client = await connect();
  await client.send(REQUEST);
  return await client.readResponse();
}

for (const [name, start] of SERVERS) {
  describe(`${name}: onError`, () => {
    test("a throwing handler is answered with onError's response", async () => {
      const failure = new Error("handler failure");
      const { seen, onError } = recordingOnError();
      const handler: ServeHandler = () => {
        throw failure;
      };
      await withServer(handler, { onError }, async (_server, connect) => {
        const response = await requestOnce(connect);
        assert.equal(response.status, 418);
        assert.equal(response.body, "handled");
        assert.deepEqual(seen, [failure]);
      }, start);
    });

    test("a rejected promise and a non-Response reach onError too", async () => {
      const failure = new Error("async failure");
      const { seen, onError } = recordingOnError();
      let calls = 0;
      const handler = (() =>
        ++calls === 1
          ? Promise.reject(failure)
          : "not a response") as unknown as ServeHandler;
      await withServer(handler, { onError }, async (_server, connect) => {
        assert.equal((await requestOnce(connect)).status, 418);
        assert.equal((await requestOnce(connect)).status, 418);
        assert.equal(seen[0], failure);
        assert.ok(seen[1] instanceof TypeError);
      }, start);
    });

    test("by default a handler's error is logged once and answered 500", async () => {
      const failure = new Error("handler failure");
      const handler: ServeHandler = () => {
        throw failure;
      };
      await withServer(handler, {}, async (_server, connect) => {
        const logged = await capturingErrors(async () => {
          const response = await requestOnce(connect);
          assert.equal(response.status, 500);
          assert.match(response.body, /Internal Server Error/);
        });
        assert.equal(logged.length, 1);
        assert.match(String(logged[0][0]), /^rfc6455 serve:/);
        assert.ok(logged[0].includes(failure));
      }, start);
    });

    test("a response that cannot be sent reaches onError as a ServerError; its answer is ignored", async () => {
      const used = new Response("once");
      await used.text();
      const { seen, onError } = recordingOnError();
      await withServer(
        () =>
          used,
        { onError },
        async (_server, connect) => {
          const response = await requestOnce(connect);
          assert.equal(response.status, 500);
          assert.equal(seen.length, 1);
          const error = seen[0];
          assert.ok(error instanceof ServerError);
          assert.equal(error.phase, "response");
          assert.ok(error.cause instanceof TypeError);
        },
        start,
      );
    });

    test("onError failing is reported to it as a ServerError, and 500 is sent", async () => {
      const failure = new Error("handler failure");
      const broken = new Error("onError failure");
      const seen: unknown[] = [];
      const onError = (error: unknown): Response => {
        seen.push(error);
        if (error instanceof ServerError) return new Response("ignored");
        throw broken;
      };
      const handler: ServeHandler = () => {
        throw failure;
      };
      await withServer(handler, { onError }, async (_server, connect) => {
        const response = await requestOnce(connect);
        assert.equal(response.status, 500);
        assert.equal(seen.length, 2);
        assert.equal(seen[0], failure);
        const reported = seen[1];
        assert.ok(reported instanceof ServerError);
        assert.equal(reported.phase, "onError");
        assert.equal(reported.cause, broken);
      }, start);
    });

    test("an onError that is not a function is a TypeError before listening", async () => {
      await assert.rejects(
        async () =>
          await start(() => new Response(), {
            onError: "log" as unknown as ServeOptions["onError"],
          }),
        TypeError,
      );
    });
  });
}
