// The onError hook without sockets: a fake listener and connection drive
// startServer, so accept and write failures can be caused on purpose.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ServerError } from "../../../errors.ts";
import { startServer } from "../../../server/serve.ts";
import type {
  AcceptedConn,
  ConnectionSource,
} from "../../../server/listener.ts";
import { ErrorHook } from "../../../server/on_error.ts";

const ADDR = { transport: "tcp", hostname: "127.0.0.1", port: 1 } as const;

/** A listener that accepts what the test hands it. */
function fakeSource(): {
  source: ConnectionSource;
  connect(conn: AcceptedConn): void;
  failAccept(error: unknown): void;
} {
  let onConnection: (conn: AcceptedConn) => void = () => {};
  let onAcceptError: (error: unknown) => void = () => {};
  const stopped = Promise.withResolvers<void>();
  return {
    source: {
      addr: ADDR,
      secure: false,
      accept(connection, acceptError) {
        onConnection = connection;
        onAcceptError = acceptError;
        return stopped.promise;
      },
      close: () => stopped.resolve(),
    },
    connect: (conn) => onConnection(conn),
    failAccept: (error) => onAcceptError(error),
  };
}

/** A connection that sends one request, then fails every write. */
function brokenWriteConn(writeError: Error): AcceptedConn {
  const request = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  let sent = false;
  const closed = Promise.withResolvers<null>();
  return {
    remoteAddr: ADDR,
    read(buffer) {
      if (sent) return closed.promise;
      sent = true;
      buffer.set(request);
      return Promise.resolve(request.length);
    },
    write: () => Promise.reject(writeError),
    close: () => closed.resolve(null),
  };
}

/** A server on a fake source whose onError records what it is given. */
function recordingServer() {
  const fake = fakeSource();
  const seen: unknown[] = [];
  const reported = Promise.withResolvers<void>();
  const server = startServer(
    {
      onListen() {},
      onError(error) {
        seen.push(error);
        reported.resolve();
        return new Response("ignored");
      },
    },
    () => new Response("hello"),
    fake.source,
  );
  return { fake, seen, reported: reported.promise, server };
}

describe("onError: the server's own failures", () => {
  test("a failed accept arrives as a ServerError of phase accept", async () => {
    const { fake, seen, server } = recordingServer();
    const failure = new Error("EMFILE");
    fake.failAccept(failure);
    await server.shutdown();
    assert.equal(seen.length, 1);
    const error = seen[0];
    assert.ok(error instanceof ServerError);
    assert.equal(error.phase, "accept");
    assert.equal(error.cause, failure);
  });

  test("a failed write arrives as a ServerError of phase connection", async () => {
    const { fake, seen, reported, server } = recordingServer();
    const failure = new Error("broken pipe");
    fake.connect(brokenWriteConn(failure));
    await reported;
    await server.shutdown();
    assert.equal(seen.length, 1);
    const error = seen[0];
    assert.ok(error instanceof ServerError);
    assert.equal(error.phase, "connection");
    assert.equal(error.cause, failure);
  });
});

describe("ErrorHook", () => {
  /** Replace console.error while `body` runs; returns what was logged. */
  async function capturingErrors(
    body: () => Promise<void> | void,
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

  test("the default logs a ServerError once, by message and cause", async () => {
    const cause = new Error("EMFILE");
    const logged = await capturingErrors(() => {
      new ErrorHook().report(new ServerError("accept", "accept failed", cause));
    });
    assert.deepEqual(logged, [["rfc6455 serve: accept failed:", cause]]);
  });

  test("the default answers a handler's error with 500", async () => {
    let response: Response | undefined;
    const logged = await capturingErrors(async () => {
      response = await new ErrorHook().respond(new Error("boom"));
    });
    assert.equal(response?.status, 500);
    assert.equal(logged.length, 1);
  });

  test("an onError that rejects on a ServerError falls back to the default log", async () => {
    const broken = new Error("onError failure");
    const cause = new Error("EMFILE");
    const hook = new ErrorHook(() => Promise.reject(broken));
    const logged: unknown[][] = [];
    const loggedTwice = Promise.withResolvers<void>();
    const original = console.error;
    console.error = (...args: unknown[]) => {
      if (logged.push(args) === 2) loggedTwice.resolve();
    };
    try {
      hook.report(new ServerError("accept", "accept failed", cause));
      await loggedTwice.promise;
    } finally {
      console.error = original;
    }
    assert.equal(logged[0][1], broken);
    assert.deepEqual(logged[1], ["rfc6455 serve: accept failed:", cause]);
  });

  test("an onError returning no Response gets 500", async () => {
    const seen: unknown[] = [];
    const hook = new ErrorHook((error) => {
      seen.push(error);
      return "nope" as unknown as Response;
    });
    const response = await hook.respond(new Error("boom"));
    assert.equal(response.status, 500);
    assert.ok(seen[1] instanceof ServerError);
    assert.equal((seen[1] as ServerError).phase, "onError");
  });
});
