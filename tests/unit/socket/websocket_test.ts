import { describe, test } from "node:test";
import { UnreadIteratorError } from "../../../errors.ts";
import assert from "node:assert/strict";
import {
  abortPendingSocket,
  attachConnection,
  attachConnectionWith,
  createPendingSocket,
} from "../../../socket/websocket.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { encodeClosePayload } from "../../../frame/close_payload.ts";
import {
  barrier,
  closeCodeOf,
  closeFrame,
  decoder,
  encoder,
  FakeConn,
  maskedFrame,
  openSocket,
  record,
  text,
} from "../../support/websocket.ts";

describe("opening", () => {
  test("dispatches open, then the messages that came with the handshake", async () => {
    const socket = createPendingSocket("server", { pingInterval: 0 });
    const log = record(socket);
    assert.equal(socket.readyState, socket.CONNECTING);
    const conn = new FakeConn();
    const leftover = new Uint8Array([...text("early"), ...text("bird")]);
    const done = attachConnection(socket, conn, leftover, {
      protocol: "chat",
      extensions: "x",
    });
    assert.deepEqual(log, ["open", "message:early", "message:bird"]);
    assert.equal(socket.readyState, socket.OPEN);
    assert.equal(socket.protocol, "chat");
    assert.equal(socket.extensions, "x");
    assert.equal(socket.url, "");
    conn.end();
    await done;
  });

  test("attachConnectionWith tells its hook once, after close, when the connection is closed", async () => {
    const socket = createPendingSocket("server", { pingInterval: 0 });
    const log = record(socket);
    const conn = new FakeConn();
    const told = Promise.withResolvers<void>();
    let calls = 0;
    attachConnectionWith(socket, conn, new Uint8Array(0), {
      protocol: "",
      extensions: "",
    }, {
      connectionClosed() {
        calls++;
        log.push(`hook:${conn.closed}`);
        told.resolve();
      },
    });
    assert.deepEqual(log, ["open"]);
    conn.push(closeFrame(1000));
    await told.promise;
    assert.deepEqual(log, ["open", "close:1000::clean", "hook:true"]);
    // A second attach of the same socket closes the new conn and tells at once.
    const other = new FakeConn();
    attachConnectionWith(socket, other, new Uint8Array(0), {
      protocol: "",
      extensions: "",
    }, { connectionClosed: () => calls++ });
    assert.equal(other.closed, true);
    assert.equal(calls, 2);
  });

  test("send while CONNECTING throws InvalidStateError", () => {
    const socket = createPendingSocket("server");
    assert.throws(() => socket.send("x"), { name: "InvalidStateError" });
  });

  test("an abandoned handshake reports error then close 1006", () => {
    const socket = createPendingSocket("server");
    const log = record(socket);
    abortPendingSocket(socket, "handler threw");
    assert.deepEqual(log, ["error", "close:1006::unclean"]);
    assert.equal(socket.readyState, socket.CLOSED);
  });

  test("close() while CONNECTING sends the close frame at open, without an open event", async () => {
    const socket = createPendingSocket("server", { pingInterval: 0 });
    const log = record(socket);
    socket.close(4001, "unauthorized");
    assert.equal(socket.readyState, socket.CLOSING);
    const conn = new FakeConn();
    const done = attachConnection(socket, conn, new Uint8Array(0), {
      protocol: "",
      extensions: "",
    });
    await conn.until(() => conn.frames().length === 1);
    assert.equal(closeCodeOf(conn.frames()[0]), 4001);
    conn.push(closeFrame(4001));
    await done;
    assert.deepEqual(log, ["close:4001::clean"]);
  });
});

describe("messages", () => {
  test("text, and binary as ArrayBuffer (server default) or Blob", async () => {
    const { socket, conn, done } = openSocket();
    assert.equal(socket.binaryType, "arraybuffer");
    const received: unknown[] = [];
    socket.onmessage = (event) => received.push(event.data);
    conn.push(
      text("hi"),
      maskedFrame(Opcode.Binary, new Uint8Array([1, 2, 3])),
    );
    await barrier(conn);
    assert.equal(received[0], "hi");
    assert.ok(received[1] instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(received[1] as ArrayBuffer)], [
      1,
      2,
      3,
    ]);
    socket.binaryType = "nonsense" as "blob";
    assert.equal(socket.binaryType, "arraybuffer");
    socket.binaryType = "blob";
    conn.push(maskedFrame(Opcode.Binary, new Uint8Array([4, 5])));
    await barrier(conn);
    assert.ok(received[2] instanceof Blob);
    assert.deepEqual([
      ...new Uint8Array(await (received[2] as Blob).arrayBuffer()),
    ], [4, 5]);
    conn.end();
    await done;
  });

  test("the client side defaults binaryType to blob", () => {
    assert.equal(createPendingSocket("client").binaryType, "blob");
  });

  test("a fragmented message arrives once, with a ping answered in between", async () => {
    const { conn, log, socket, done } = openSocket();
    const pings: Uint8Array[] = [];
    socket.addEventListener("ping", (event) => pings.push(event.data));
    conn.push(
      text("frag", false),
      maskedFrame(Opcode.Ping, "are you there"),
      maskedFrame(Opcode.Continuation, "men", false),
      maskedFrame(Opcode.Continuation, "ted"),
    );
    await barrier(conn);
    assert.deepEqual(log, ["open", "message:fragmented"]);
    const pong = conn.frames()[0];
    assert.equal(pong.opcode, Opcode.Pong);
    assert.equal(decoder.decode(pong.payload), "are you there");
    assert.equal(decoder.decode(pings[0]), "are you there");
    conn.end();
    await done;
  });

  test("a throwing handler is reported and does not stop the socket", {
    // bun test and node --test fail any test during which an error is
    // reported, and the DOM requires the report; the behaviour itself is
    // the runtime's own EventTarget's.
    skip: "Deno" in globalThis
      ? false
      : "this test runner fails a test that reports an error",
  }, async () => {
    const process = (globalThis as unknown as {
      process: {
        on(e: string, f: (e: unknown) => void): void;
        off(e: string, f: (e: unknown) => void): void;
      };
    }).process;
    const reported: unknown[] = [];
    // Deno reports at once, Node on a later tick: wait for both reports.
    const { promise: reportedTwice, resolve } = Promise.withResolvers<void>();
    const onReport = (error: unknown) => {
      reported.push(error);
      if (reported.length === 2) resolve();
    };
    process.on("uncaughtException", onReport);
    try {
      const { socket, conn, log, done } = openSocket();
      const bug = new Error("handler bug");
      socket.onmessage = () => {
        throw bug;
      };
      conn.push(text("one"), text("two"));
      await barrier(conn);
      assert.deepEqual(log, ["open", "message:one", "message:two"]);
      await reportedTwice;
      assert.deepEqual(reported, [bug, bug]);
      socket.send("still works");
      await conn.until(() => conn.frames().length === 2);
      assert.equal(decoder.decode(conn.frames()[1].payload), "still works");
      conn.end();
      await done;
    } finally {
      process.off("uncaughtException", onReport);
    }
  });

  test("onmessage replaces the previous handler; null removes it", async () => {
    const { socket, conn, done } = openSocket();
    const calls: string[] = [];
    socket.onmessage = () => calls.push("first");
    socket.onmessage = () => calls.push("second");
    conn.push(text("a"));
    await barrier(conn);
    socket.onmessage = null;
    assert.equal(socket.onmessage, null);
    conn.push(text("b"), closeFrame(1000));
    await done;
    assert.deepEqual(calls, ["second"]);
  });

  test("for await yields messages until close", async () => {
    const { socket, conn, done } = openSocket();
    conn.push(
      text("a"),
      maskedFrame(Opcode.Binary, new Uint8Array([7])),
      closeFrame(1000),
    );
    const seen: unknown[] = [];
    for await (const message of socket) seen.push(message);
    assert.deepEqual(seen, ["a", new Uint8Array([7])]);
    await done;
  });

  test("a slow for-await consumer stops the socket from reading", async () => {
    // A fixed buffer that takes the whole burst in one read.
    const { socket, conn, done } = openSocket({ readBufferSize: 16 * 1024 });
    const iterator = socket[Symbol.asyncIterator]();
    const burst = new Uint8Array(1100 * 7);
    for (let index = 0; index < 1100; index++) burst.set(text("x"), index * 7);
    conn.push(burst); // one read, 1100 messages: over the 1024-message mark
    assert.equal((await iterator.next()).value, "x");
    // An unpaused loop calls read() again in the same turn it processed the
    // burst, before that first message could reach us.
    assert.equal(conn.reads, 1, "no read while the buffer is full");
    conn.push(text("later"));
    for (let index = 1; index < 1100; index++) {
      assert.equal((await iterator.next()).value, "x");
    }
    assert.equal((await iterator.next()).value, "later");
    assert.ok(conn.reads > 1, "reading resumed");
    conn.push(closeFrame(1000));
    assert.equal((await iterator.next()).done, true);
    await done;
  });
});

describe("an async iterator nobody reads", () => {
  test("does not stop reading: message events go on, and its first next() says what happened", async () => {
    const { socket, conn, done } = openSocket({ readBufferSize: 16 * 1024 });
    const iterator = socket[Symbol.asyncIterator](); // never pulled yet
    let echoed = 0;
    socket.onmessage = async (event) => {
      socket.send(event.data);
      await socket.drained(); // a handler that respects backpressure
      echoed++;
    };
    const count = 1100; // over the 1024-message mark
    const burst = new Uint8Array(count * 7);
    for (let index = 0; index < count; index++) {
      burst.set(text("x"), index * 7);
    }
    conn.push(burst);
    conn.push(text("after"));
    await conn.until(() => conn.frames().length === count + 1);
    assert.equal(decoder.decode(conn.frames().at(-1)!.payload), "after");
    await assert.rejects(iterator.next(), UnreadIteratorError);
    assert.equal((await iterator.next()).done, true);
    assert.equal(socket.readyState, socket.OPEN);
    conn.push(closeFrame(1000));
    await done;
    assert.ok(echoed >= count);
  });

  test("holds the reading back when it is the only consumer left: once listeners and aborted ones do not count", async () => {
    // No logging listener here: the iterator must be the only consumer.
    const socket = createPendingSocket("server", {
      pingInterval: 0,
      readBufferSize: 16 * 1024,
    });
    const conn = new FakeConn();
    const done = attachConnection(socket, conn, new Uint8Array(0), {
      protocol: "",
      extensions: "",
    });
    const iterator = socket[Symbol.asyncIterator]();
    const aborted = new AbortController();
    socket.addEventListener("message", () => {}, { signal: aborted.signal });
    socket.addEventListener("message", () => {}, { once: true });
    aborted.abort();
    conn.push(text("first")); // the once listener is used up here
    await barrier(conn);
    const count = 1100; // over the 1024-message mark
    const burst = new Uint8Array(count * 7);
    for (let index = 0; index < count; index++) {
      burst.set(text("x"), index * 7);
    }
    conn.push(burst);
    conn.push(text("later"));
    // Not failed: every message waits for the loop, in order.
    assert.equal((await iterator.next()).value, "first");
    for (let index = 0; index < count; index++) {
      assert.equal((await iterator.next()).value, "x");
    }
    assert.equal((await iterator.next()).value, "later");
    conn.push(closeFrame(1000));
    await done;
  });

  test("an iterator read a little later gets what arrived in between", async () => {
    const { socket, conn, done } = openSocket();
    const iterator = socket[Symbol.asyncIterator]();
    conn.push(text("early"));
    await barrier(conn);
    assert.equal((await iterator.next()).value, "early");
    conn.push(closeFrame(1000));
    assert.equal((await iterator.next()).done, true);
    await done;
  });
});

describe("close handshake", () => {
  test("peer closes: echo written, server closes TCP, clean close with code and reason", async () => {
    const { socket, conn, log, done } = openSocket();
    conn.push(closeFrame(4000, "bye"));
    await done;
    const frames = conn.frames();
    assert.equal(frames.length, 1);
    assert.equal(frames[0].opcode, Opcode.Close);
    assert.equal(closeCodeOf(frames[0]), 4000);
    assert.ok(conn.closed);
    assert.equal(socket.readyState, socket.CLOSED);
    assert.deepEqual(log, ["open", "close:4000:bye:clean"]);
  });

  test("we close: close frame written, peer answers, clean close", async () => {
    const { socket, conn, log, done } = openSocket();
    socket.close(1000, "done");
    assert.equal(socket.readyState, socket.CLOSING);
    socket.close(4999); // a second close does nothing
    await conn.until(() => conn.frames().length === 1);
    const sent = conn.frames()[0];
    assert.equal(closeCodeOf(sent), 1000);
    assert.equal(decoder.decode(sent.payload.subarray(2)), "done");
    conn.push(text("dropped after close"), closeFrame(1000, "ok"));
    await done;
    assert.ok(conn.closed);
    assert.deepEqual(log, ["open", "close:1000:ok:clean"]);
  });

  test("the peer never answers our close: 1006 after closeTimeout", async () => {
    const { socket, conn, log, done } = openSocket({ closeTimeout: 10 });
    socket.close();
    await done;
    assert.equal(conn.frames()[0].payload.length, 0, "close without a code");
    assert.ok(conn.closed);
    assert.deepEqual(log, ["open", "error", "close:1006::unclean"]);
  });

  test("TCP ends before the close handshake: error, then close 1006", async () => {
    const { conn, log, done } = openSocket();
    conn.end();
    await done;
    assert.deepEqual(log, ["open", "error", "close:1006::unclean"]);
  });

  test("a protocol error sends close 1002 and reports it", async () => {
    const { conn, log, done } = openSocket();
    conn.push(encodeFrame(Opcode.Text, encoder.encode("unmasked")));
    await done;
    const frames = conn.frames();
    assert.equal(frames.length, 1);
    assert.equal(closeCodeOf(frames[0]), 1002);
    assert.ok(conn.closed);
    assert.equal(log[1], "error");
    assert.match(log[2], /^close:1002:.*:unclean$/);
  });

  test("a client echoes the server's close, then waits for the server to close TCP", async () => {
    const { conn, log, done } = openSocket({}, "client");
    conn.push(encodeFrame(Opcode.Close, encodeClosePayload(1001, "restart")));
    await conn.until(() => conn.frames("client").length === 1);
    assert.equal(conn.frames("client")[0].masked, true);
    assert.equal(conn.closed, false);
    conn.end();
    await done;
    assert.deepEqual(log, ["open", "close:1001:restart:clean"]);
  });

  test("a failed write ends the socket with 1006", async () => {
    const { socket, conn, log, done } = openSocket();
    conn.write = () => Promise.reject(new Error("connection reset"));
    socket.send("x");
    await done;
    assert.deepEqual(log, ["open", "error", "close:1006::unclean"]);
  });
});

describe("close() arguments", () => {
  test("the client side allows 1000 and 3000-4999 only", () => {
    const { socket, conn, done } = openSocket({}, "client");
    for (const code of [999, 1001, 1005, 1011, 2999, 5000, 1000.5]) {
      assert.throws(
        () => socket.close(code),
        { name: "InvalidAccessError" },
        `code ${code}`,
      );
    }
    assert.throws(() => socket.close(1000, "é".repeat(62)), {
      name: "SyntaxError",
    });
    socket.close(3000, "é".repeat(61) + "x");
    assert.equal(socket.readyState, socket.CLOSING);
    conn.end();
    return done;
  });

  test("the server side also allows 1001 and 1011 but never 1005 or 1006", async () => {
    for (const code of [1001, 1011]) {
      const { socket, conn, done } = openSocket();
      socket.close(code);
      await conn.until(() => conn.frames().length === 1);
      assert.equal(closeCodeOf(conn.frames()[0]), code);
      conn.end();
      await done;
    }
    const { socket, conn, done } = openSocket();
    assert.throws(() => socket.close(1005), { name: "InvalidAccessError" });
    assert.throws(() => socket.close(1006), { name: "InvalidAccessError" });
    conn.end();
    await done;
  });
});
