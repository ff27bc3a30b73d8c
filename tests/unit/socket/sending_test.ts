import { resolveWebSocketOptions } from "../../../socket/options.ts";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../../../frame/types.ts";
import { SHARED_PING_MIN_INTERVAL } from "../../../socket/keepalive.ts";
import { concat } from "../../support/bytes.ts";
import {
  closeCodeOf,
  closeFrame,
  decoder,
  maskedFrame,
  openSocket,
} from "../../support/websocket.ts";

describe("sending", () => {
  test("sends in one tick go out in one write", async () => {
    const { socket, conn, done } = openSocket();
    socket.send("one");
    socket.send(new Uint8Array([1, 2]));
    socket.send(new Uint16Array([0x0102]).buffer);
    await socket.drained();
    assert.equal(conn.writes.length, 1);
    const frames = conn.frames();
    assert.deepEqual(frames.map((f) => f.opcode), [
      Opcode.Text,
      Opcode.Binary,
      Opcode.Binary,
    ]);
    assert.equal(decoder.decode(frames[0].payload), "one");
    conn.end();
    await done;
  });

  test("the replies to one read go out in one write, before the next read", async () => {
    const { socket, conn, done } = openSocket();
    socket.addEventListener("message", (event) => socket.send(event.data));
    const readsAtWrite: number[] = [];
    const write = conn.write.bind(conn);
    conn.write = (data) => {
      readsAtWrite.push(conn.reads);
      return write(data);
    };
    conn.push(
      concat(maskedFrame(Opcode.Text, "a"), maskedFrame(Opcode.Text, "b")),
    );
    await conn.until(() => conn.writes.length > 0);
    // Written at the end of the first read, not a microtask later (when
    // the second read was already issued).
    assert.deepEqual(readsAtWrite, [1]);
    assert.deepEqual(
      conn.frames().map((frame) => decoder.decode(frame.payload)),
      ["a", "b"],
    );
    conn.end();
    await done;
  });

  test("short writes are resumed until every byte is written", async () => {
    const { socket, conn, done } = openSocket();
    conn.maxWrite = 7;
    const payload = new Uint8Array(1000).map((_, index) => index % 251);
    socket.send(payload);
    assert.equal(socket.bufferedAmount, 1004);
    await socket.drained();
    assert.equal(socket.bufferedAmount, 0);
    assert.ok(conn.writes.length >= 1004 / 7);
    assert.deepEqual(conn.frames()[0].payload, payload);
    conn.end();
    await done;
  });

  test("drained() waits for a peer that stopped reading", async () => {
    const { socket, conn, done } = openSocket();
    conn.hold();
    socket.send("waiting");
    let drained = false;
    const drain = socket.drained().then(() => drained = true);
    await Promise.resolve();
    assert.equal(socket.bufferedAmount, 9);
    assert.equal(drained, false);
    conn.release();
    await drain;
    assert.equal(socket.bufferedAmount, 0);
    conn.end();
    await done;
  });

  test("a Blob keeps its place among the messages", async () => {
    const { socket, conn, done } = openSocket();
    socket.send("first");
    socket.send(new Blob(["blob"]));
    const view = new Uint8Array([9]);
    socket.send(view);
    view[0] = 0; // send captured the bytes
    socket.send("last");
    await conn.until(() => conn.frames().length === 4);
    const frames = conn.frames();
    assert.deepEqual(frames.map((f) => decoder.decode(f.payload)), [
      "first",
      "blob",
      "\t",
      "last",
    ]);
    conn.end();
    await done;
  });

  test("sends after close are discarded and counted in bufferedAmount", async () => {
    const { socket, conn, done } = openSocket();
    socket.close();
    await socket.drained();
    const before = socket.bufferedAmount;
    socket.send("abc");
    socket.send("é");
    socket.send(new Uint8Array(10));
    assert.equal(socket.bufferedAmount, before + 3 + 2 + 10);
    conn.push(closeFrame(1000));
    await done;
    assert.equal(conn.frames().length, 1, "only the close frame");
  });

  test("a burst sent at once (3 x 10 MiB) reaches a peer that reads, with the defaults", async () => {
    const { socket, conn, log, done } = openSocket();
    const sizes = [10 << 20, 10 << 20, 10 << 20];
    for (const size of sizes) {
      socket.send(new Uint8Array(size).fill(size & 255));
    }
    assert.equal(socket.readyState, socket.OPEN);
    await socket.drained();
    const frames = conn.frames();
    assert.deepEqual(frames.map((frame) => frame.payload.length), sizes);
    assert.equal(socket.readyState, socket.OPEN);
    conn.end();
    await done;
    assert.deepEqual(log.slice(0, 1), ["open"]);
  });

  test("a send while more than maxQueuedBytes wait fails the connection with 1008", async () => {
    const { socket, conn, log, done } = openSocket({ maxQueuedBytes: 100 });
    conn.hold();
    socket.send(new Uint8Array(60)); // in flight
    await Promise.resolve();
    socket.send(new Uint8Array(30)); // queued: 62 + 32 bytes
    socket.send(new Uint8Array(30)); // 94 waited: accepted, now 126
    assert.equal(socket.readyState, socket.OPEN);
    socket.send(new Uint8Array(30)); // 126 wait: refused
    assert.equal(socket.readyState, socket.CLOSING);
    conn.release();
    await done;
    const frames = conn.frames();
    assert.deepEqual(frames.map((f) => f.opcode), [
      Opcode.Binary,
      Opcode.Close,
    ]);
    assert.equal(closeCodeOf(frames[1]), 1008);
    assert.deepEqual(log, [
      "open",
      "error",
      "close:1008:send queue full:unclean",
    ]);
  });
});

describe("timers", () => {
  test("keepalive pings, and drops a peer that stops answering", async () => {
    const { conn, log, done } = openSocket({ pingInterval: 5 });
    await conn.until(() => conn.frames().length === 1);
    assert.equal(conn.frames()[0].opcode, Opcode.Ping);
    conn.push(maskedFrame(Opcode.Pong, ""));
    await conn.until(() => conn.frames().length === 2);
    assert.equal(
      conn.frames()[1].opcode,
      Opcode.Ping,
      "answered: pinged again",
    );
    await done; // no answer this time
    assert.ok(conn.closed);
    assert.deepEqual(log, ["open", "error", "close:1006::unclean"]);
  });

  test("long ping intervals share one ticker: each socket is pinged, a silent one dropped", async () => {
    const options = { pingInterval: SHARED_PING_MIN_INTERVAL };
    const answering = openSocket(options);
    const silent = openSocket(options);
    for (const { conn } of [answering, silent]) {
      await conn.until(() => conn.frames().length === 1);
      assert.equal(conn.frames()[0].opcode, Opcode.Ping);
    }
    answering.conn.push(maskedFrame(Opcode.Pong, ""));
    await silent.done; // no answer: dropped at its next tick
    assert.deepEqual(silent.log, ["open", "error", "close:1006::unclean"]);
    await answering.conn.until(() => answering.conn.frames().length === 2);
    assert.equal(answering.conn.frames()[1].opcode, Opcode.Ping);
    assert.deepEqual(answering.log, ["open"]);
    answering.socket.close(1000);
    answering.conn.push(closeFrame(1000));
    await answering.done;
  });

  test("idleTimeout is Deno's: seconds to answer a ping, the same keepalive as pingInterval", async () => {
    const { conn, log, done } = openSocket({ idleTimeout: 0.005 });
    await conn.until(() => conn.frames().length === 1);
    assert.equal(conn.frames()[0].opcode, Opcode.Ping);
    await done; // never answered
    assert.deepEqual(log, ["open", "error", "close:1006::unclean"]);
    const resolved = resolveWebSocketOptions({ idleTimeout: 60 });
    assert.equal(resolved.pingInterval, 60_000);
    assert.equal(resolved.silenceTimeout, 0);
    assert.equal(resolveWebSocketOptions().idleTimeout, 30);
    assert.equal(resolveWebSocketOptions({ idleTimeout: 0 }).pingInterval, 0);
    assert.equal(
      resolveWebSocketOptions({ idleTimeout: 2, pingInterval: 2000 })
        .pingInterval,
      2000,
    );
    assert.throws(
      () => resolveWebSocketOptions({ idleTimeout: 60, pingInterval: 60 }),
      RangeError,
    );
  });

  test("ping() sends a ping and the answer arrives as a pong event", async () => {
    const { socket, conn, done } = openSocket();
    const pong = new Promise<MessageEvent<Uint8Array>>((resolve) =>
      socket.addEventListener("pong", resolve)
    );
    socket.ping("hello?");
    await conn.until(() => conn.frames().length === 1);
    assert.equal(conn.frames()[0].opcode, Opcode.Ping);
    assert.equal(decoder.decode(conn.frames()[0].payload), "hello?");
    assert.throws(() => socket.ping(new Uint8Array(126)), RangeError);
    conn.push(maskedFrame(Opcode.Pong, "hello?"));
    assert.equal(decoder.decode((await pong).data), "hello?");
    conn.end();
    await done;
  });

  test("silenceTimeout closes a silent connection with 1001", async () => {
    const { conn, log, done } = openSocket({ silenceTimeout: 5 });
    await conn.until(() => conn.frames().length === 1);
    assert.equal(closeCodeOf(conn.frames()[0]), 1001);
    conn.push(closeFrame(1001));
    await done;
    assert.deepEqual(log, ["open", "close:1001::clean"]);
  });

  test("every timer is cleared when the socket closes", async () => {
    const runtime = globalThis as unknown as Record<
      string,
      (...args: unknown[]) => unknown
    >;
    const names = [
      "setTimeout",
      "setInterval",
      "clearTimeout",
      "clearInterval",
    ];
    const original = Object.fromEntries(
      names.map((name) => [name, runtime[name]]),
    );
    const active = new Set<unknown>();
    runtime.setTimeout = (callback, delay) => {
      const id = original.setTimeout(() => {
        active.delete(id);
        (callback as () => void)();
      }, delay);
      active.add(id);
      return id;
    };
    runtime.setInterval = (callback, delay) => {
      const id = original.setInterval(callback, delay);
      active.add(id);
      return id;
    };
    runtime.clearTimeout = (
      id,
    ) => (active.delete(id), original.clearTimeout(id));
    runtime.clearInterval = (
      id,
    ) => (active.delete(id), original.clearInterval(id));
    try {
      const { socket, conn, done } = openSocket({
        pingInterval: 60_000,
        silenceTimeout: 60_000,
        closeTimeout: 60_000,
      });
      assert.equal(active.size, 2);
      socket.close();
      assert.equal(
        active.size,
        1,
        "closing stops ping and idle, starts the close timer",
      );
      conn.push(closeFrame(1000));
      await done;
      assert.equal(active.size, 0);
    } finally {
      Object.assign(runtime, original);
    }
  });
});
