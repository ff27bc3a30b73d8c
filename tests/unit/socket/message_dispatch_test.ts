/**
 * What an application observes while a "message" event is delivered, with
 * `onmessage` alone, with listeners, and with both: the event's fields
 * during and after the handler, `this`, stopping propagation, listeners
 * added or removed while dispatching, `once` listeners, `handleEvent`
 * objects and a replaced `dispatchEvent`. Written against the runtime's own
 * `dispatchEvent` in Deno, Bun and Node, so that a cheaper delivery must
 * keep every one of these the same.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  attachConnection,
  createPendingSocket,
  type WebSocketConnection,
} from "../../../socket/websocket.ts";
import { Opcode } from "../../../frame/types.ts";
import {
  barrier,
  closeFrame,
  FakeConn,
  maskedFrame,
  text,
} from "../../support/websocket.ts";

/** An open server socket with no listener at all, over a fake connection. */
function bareSocket(): {
  socket: WebSocketConnection;
  conn: FakeConn;
  done: Promise<void>;
} {
  const socket = createPendingSocket("server", { pingInterval: 0 });
  const conn = new FakeConn();
  const done = attachConnection(socket, conn, new Uint8Array(0), {
    protocol: "",
    extensions: "",
  });
  return { socket, conn, done };
}

/** Whether this runtime's `srcElement` is the target while dispatching
 * (Deno's is always null). */
function srcElementIsTarget(): boolean {
  const target = new EventTarget();
  let same = false;
  target.addEventListener("message", (event) => {
    same = (event as unknown as { srcElement: unknown }).srcElement === target;
  });
  target.dispatchEvent(new MessageEvent("message"));
  return same;
}

/** Pushes text messages and waits until the socket handled them. */
async function deliver(conn: FakeConn, ...messages: string[]): Promise<void> {
  conn.push(...messages.map((message) => text(message)));
  await barrier(conn);
}

/** Closes the socket from the peer's side and waits for it to end. */
async function finish(conn: FakeConn, done: Promise<void>): Promise<void> {
  conn.push(closeFrame(1000));
  await done;
}

describe("delivering a message event", () => {
  test("onmessage alone: the event's fields while it runs and after", async () => {
    const { socket, conn, done } = bareSocket();
    const seen: Record<string, unknown> = {};
    let held: MessageEvent | null = null;
    socket.onmessage = function (event) {
      held = event;
      seen.thisIsSocket = this === socket;
      seen.target = event.target === socket;
      seen.currentTarget = event.currentTarget === socket;
      seen.srcElement = (event as unknown as { srcElement: unknown })
        .srcElement === socket;
      seen.eventPhase = event.eventPhase;
      seen.isTrusted = event.isTrusted;
      seen.path = event.composedPath().length === 1 &&
        event.composedPath()[0] === socket;
      seen.isMessageEvent = event instanceof MessageEvent;
      seen.isEvent = event instanceof Event;
      seen.type = event.type;
      seen.data = event.data;
      seen.origin = event.origin;
      seen.lastEventId = event.lastEventId;
      seen.source = event.source;
      seen.ports = event.ports.length;
      seen.bubbles = event.bubbles;
      seen.cancelable = event.cancelable;
      seen.composed = event.composed;
      seen.timeStamp = typeof event.timeStamp;
      event.preventDefault();
      seen.defaultPrevented = event.defaultPrevented;
      seen.cancelBubble = event.cancelBubble;
    };
    await deliver(conn, "hi");
    assert.deepEqual(seen, {
      thisIsSocket: true,
      target: true,
      currentTarget: true,
      srcElement: srcElementIsTarget(),
      eventPhase: Event.AT_TARGET,
      isTrusted: false,
      path: true,
      isMessageEvent: true,
      isEvent: true,
      type: "message",
      data: "hi",
      origin: "",
      lastEventId: "",
      source: null,
      ports: 0,
      bubbles: false,
      cancelable: false,
      composed: false,
      timeStamp: "number",
      defaultPrevented: false,
      cancelBubble: false,
    });
    const after = held as MessageEvent | null;
    assert.ok(after !== null);
    assert.equal(after.target, socket);
    assert.equal(after.currentTarget, null);
    assert.equal(after.eventPhase, Event.NONE);
    assert.deepEqual(after.composedPath(), []);
    assert.equal(after.data, "hi");
    await finish(conn, done);
  });

  test("binary data arrives as binaryType says, with onmessage alone", async () => {
    const { socket, conn, done } = bareSocket();
    const seen: unknown[] = [];
    socket.onmessage = (event) => seen.push(event.data);
    socket.binaryType = "blob";
    conn.push(maskedFrame(Opcode.Binary, new Uint8Array([1, 2, 3])));
    await barrier(conn);
    socket.binaryType = "arraybuffer";
    conn.push(maskedFrame(Opcode.Binary, new Uint8Array([4, 5])));
    await barrier(conn);
    assert.ok(seen[0] instanceof Blob);
    assert.deepEqual([...new Uint8Array(await seen[0].arrayBuffer())], [
      1,
      2,
      3,
    ]);
    assert.ok(seen[1] instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(seen[1])], [4, 5]);
    await finish(conn, done);
  });

  test("stopImmediatePropagation marks only the event it was called on", async () => {
    const { socket, conn, done } = bareSocket();
    const seen: unknown[] = [];
    socket.onmessage = (event) => {
      seen.push(event.cancelBubble);
      if (event.data === "a") event.stopImmediatePropagation();
      seen.push(event.cancelBubble);
    };
    await deliver(conn, "a", "b");
    assert.deepEqual(seen, [false, true, false, false]);
    await finish(conn, done);
  });

  test("stopImmediatePropagation in onmessage skips the listeners after it", async () => {
    const { socket, conn, done } = bareSocket();
    const calls: string[] = [];
    socket.onmessage = (event) => {
      calls.push(`on:${event.data}`);
      if (event.data === "a") event.stopImmediatePropagation();
    };
    socket.addEventListener("message", (event) => {
      calls.push(`listener:${event.data}`);
    });
    await deliver(conn, "a", "b");
    assert.deepEqual(calls, ["on:a", "on:b", "listener:b"]);
    await finish(conn, done);
  });

  test("a listener added while onmessage runs hears only later messages", async () => {
    const { socket, conn, done } = bareSocket();
    const calls: string[] = [];
    socket.onmessage = (event) => {
      calls.push(`on:${event.data}`);
      if (event.data === "a") {
        socket.addEventListener("message", (later) => {
          calls.push(`added:${later.data}`);
        });
      }
    };
    await deliver(conn, "a", "b");
    assert.deepEqual(calls, ["on:a", "on:b", "added:b"]);
    await finish(conn, done);
  });

  test("onmessage replaced or cleared while it runs", async () => {
    const { socket, conn, done } = bareSocket();
    const calls: string[] = [];
    socket.onmessage = (event) => {
      calls.push(`first:${event.data}`);
      socket.onmessage = (next) => {
        calls.push(`second:${next.data}`);
        socket.onmessage = null;
      };
    };
    await deliver(conn, "a", "b", "c");
    assert.deepEqual(calls, ["first:a", "second:b"]);
    await finish(conn, done);
  });

  test("a listener removed by onmessage while dispatching is not called", async () => {
    const { socket, conn, done } = bareSocket();
    const calls: string[] = [];
    const listener = (event: MessageEvent) => {
      calls.push(`listener:${event.data}`);
    };
    socket.onmessage = (event) => {
      calls.push(`on:${event.data}`);
      socket.removeEventListener("message", listener);
    };
    socket.addEventListener("message", listener);
    await deliver(conn, "a", "b");
    assert.deepEqual(calls, ["on:a", "on:b"]);
    await finish(conn, done);
  });

  test("onmessage keeps its place among listeners; cleared and set again, it goes last", async () => {
    const { socket, conn, done } = bareSocket();
    const calls: string[] = [];
    const first = () => calls.push("first");
    socket.addEventListener("message", first);
    socket.onmessage = () => calls.push("on");
    socket.addEventListener("message", () => calls.push("last"));
    await deliver(conn, "a");
    socket.onmessage = null;
    socket.onmessage = () => calls.push("on again");
    socket.removeEventListener("message", first);
    await deliver(conn, "b");
    assert.deepEqual(calls, ["first", "on", "last", "last", "on again"]);
    await finish(conn, done);
  });

  test("a once listener alone hears one message; this is the socket", async () => {
    const { socket, conn, done } = bareSocket();
    const calls: unknown[] = [];
    socket.addEventListener("message", function (event) {
      calls.push(event.data, this === socket, event.currentTarget === socket);
    }, { once: true });
    await deliver(conn, "a", "b");
    assert.deepEqual(calls, ["a", true, true]);
    await finish(conn, done);
  });

  test("a listener added with an aborted signal is never called", async () => {
    const { socket, conn, done } = bareSocket();
    const calls: string[] = [];
    socket.addEventListener("message", () => calls.push("aborted"), {
      signal: AbortSignal.abort(),
    });
    await deliver(conn, "nobody");
    const controller = new AbortController();
    socket.addEventListener("message", (event) => calls.push(event.data), {
      signal: controller.signal,
    });
    await deliver(conn, "a");
    controller.abort();
    await deliver(conn, "b");
    assert.deepEqual(calls, ["a"]);
    await finish(conn, done);
  });

  test("a lone listener that throws is reported like onmessage", {
    skip: "Deno" in globalThis
      ? false
      : "this test runner fails a test that reports an error",
  }, async () => {
    const reports: unknown[] = [];
    const { promise: reported, resolve } = Promise.withResolvers<void>();
    const onError = (event: Event) => {
      event.preventDefault();
      reports.push((event as ErrorEvent).error);
      resolve();
    };
    globalThis.addEventListener("error", onError);
    try {
      const { socket, conn, done } = bareSocket();
      const bug = new Error("listener bug");
      const calls: string[] = [];
      socket.addEventListener("message", (event) => {
        calls.push(event.data);
        if (event.data === "a") throw bug;
      });
      await deliver(conn, "a", "b");
      await reported;
      assert.deepEqual(calls, ["a", "b"]);
      assert.deepEqual(reports, [bug]);
      await finish(conn, done);
    } finally {
      globalThis.removeEventListener("error", onError);
    }
  });

  test("a handleEvent object is called with itself as this", async () => {
    const { socket, conn, done } = bareSocket();
    const calls: unknown[] = [];
    const listener = {
      handleEvent(event: Event) {
        calls.push((event as MessageEvent).data, this === listener);
      },
    };
    socket.addEventListener("message", listener);
    await deliver(conn, "a");
    socket.removeEventListener("message", listener);
    await deliver(conn, "b");
    assert.deepEqual(calls, ["a", true]);
    await finish(conn, done);
  });

  test("a dispatchEvent set on the socket sees every event it produces", async () => {
    const { socket, conn, done } = bareSocket();
    const dispatched: string[] = [];
    const calls: string[] = [];
    socket.dispatchEvent = function (event: Event): boolean {
      dispatched.push(event.type);
      return EventTarget.prototype.dispatchEvent.call(this, event);
    };
    socket.onmessage = (event) => calls.push(event.data);
    await deliver(conn, "a");
    assert.deepEqual(calls, ["a"]);
    assert.ok(dispatched.includes("message"));
    await finish(conn, done);
  });

  test("the async iterator alone gets every message", async () => {
    const { socket, conn, done } = bareSocket();
    const iterator = socket[Symbol.asyncIterator]();
    const first = iterator.next();
    await deliver(conn, "a", "b");
    assert.deepEqual(await first, { done: false, value: "a" });
    assert.deepEqual(await iterator.next(), { done: false, value: "b" });
    await finish(conn, done);
    assert.equal((await iterator.next()).done, true);
  });

  test("onmessage set to null after a handler: nothing is called", async () => {
    const { socket, conn, done } = bareSocket();
    const calls: string[] = [];
    socket.onmessage = (event) => calls.push(event.data);
    socket.onmessage = null;
    await deliver(conn, "a");
    assert.deepEqual(calls, []);
    await finish(conn, done);
  });
});
