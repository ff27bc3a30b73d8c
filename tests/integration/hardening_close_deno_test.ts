// Deno only: how connections end when the peer misbehaves, over real
// sockets. A connection the server fails while the client is still sending
// ends with the close frame delivered, not a TCP reset (the server
// half-closes and drains for a bounded time); a peer that sends a close and
// vanishes, or stops answering (half-open), is released.
import assert from "node:assert/strict";
import { Opcode } from "../../frame/types.ts";
import {
  attachConnection,
  createPendingSocket,
} from "../../socket/websocket.ts";
import { closeCodeOf, FakeConn, record } from "../support/websocket.ts";
import { withDeadline } from "../interop/peers/bounded.ts";
import {
  clientFrame,
  closePayload,
  concat,
  RawWebSocket,
} from "../support/raw_ws_client_deno.ts";
import {
  EVENT_DEADLINE,
  HardeningServer,
  signal,
  writeAll,
} from "../support/hardening_deno.ts";
import { DEFAULTS } from "../../defaults.ts";

const MAX_MESSAGE_SIZE = 64 * 1024;

/** A FakeConn with a sending side that can be ended on its own. */
class HalfClosableConn extends FakeConn {
  /** What happened to the connection, in order. */
  readonly steps: string[] = [];
  readonly #halfClosed = signal();
  /** Settles once closeWrite was called. */
  readonly halfClosed: Promise<void> = this.#halfClosed.promise;
  closeWrite(): Promise<void> {
    this.steps.push("closeWrite");
    this.#halfClosed.resolve();
    return Promise.resolve();
  }
  override close(): void {
    this.steps.push("close");
    super.close();
  }
}

/** A server socket over a HalfClosableConn, failed by a reserved opcode. */
function failedSocket() {
  // A fixed 16 KiB read buffer, so the bytes read can be bounded by counting
  // reads.
  const socket = createPendingSocket("server", {
    pingInterval: 0,
    readBufferSize: 16 * 1024,
  });
  const log = record(socket);
  socket.addEventListener("close", () => conn.steps.push("close event"));
  const conn = new HalfClosableConn();
  const done = attachConnection(socket, conn, new Uint8Array(0), {
    protocol: "",
    extensions: "",
  });
  conn.push(clientFrame(0x3, "reserved opcode"));
  return { conn, log, done };
}

Deno.test("a failed connection half-closes after its close frame and is closed once the peer ends", async () => {
  const { conn, log, done } = failedSocket();
  await conn.halfClosed;
  assert.equal(closeCodeOf(conn.frames()[0]), 1002);
  assert.deepEqual(conn.steps, ["closeWrite", "close event"]);
  conn.push(new Uint8Array(100)); // still arriving: read and dropped
  conn.end();
  await done;
  assert.deepEqual(conn.steps, ["closeWrite", "close event", "close"]);
  assert.equal(log.at(-1), "close:1002:reserved opcode 0x3:unclean");
});

Deno.test("a failed connection whose peer keeps sending is closed after DEFAULTS.limits.lingerMaxBytes", async () => {
  const { conn, done } = failedSocket();
  await conn.halfClosed;
  const readsBefore = conn.reads;
  conn.push(new Uint8Array(4 * DEFAULTS.limits.lingerMaxBytes));
  await done;
  assert.deepEqual(conn.steps, ["closeWrite", "close event", "close"]);
  const readBytes = (conn.reads - readsBefore) * 16 * 1024;
  assert.ok(
    readBytes <= DEFAULTS.limits.lingerMaxBytes + 32 * 1024,
    `read ${readBytes} bytes while lingering`,
  );
});

Deno.test("a failed connection whose peer stays silent is closed after DEFAULTS.limits.lingerTimeout", async () => {
  const { conn, done } = failedSocket();
  await conn.halfClosed;
  const started = performance.now();
  await done; // nothing else happens: only the linger timer ends it
  const waited = performance.now() - started;
  assert.deepEqual(conn.steps, ["closeWrite", "close event", "close"]);
  assert.ok(
    waited >= DEFAULTS.limits.lingerTimeout - 50,
    `closed after ${waited} ms`,
  );
});
/** Well over the limit, and all of it within what the server drains. */
const OVERSIZED = 12 * MAX_MESSAGE_SIZE;

Deno.test("serve: Deno's WebSocket sends a message over maxMessageSize in one go and sees 1009, not a reset", async () => {
  const target = new HardeningServer({ maxMessageSize: MAX_MESSAGE_SIZE });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const path = target.uniquePath("oversized");
      const client = new WebSocket(`ws://127.0.0.1:${target.port}${path}`);
      const closed = new Promise<CloseEvent>((resolve) => {
        client.onclose = resolve;
      });
      client.onerror = () => {}; // the close event carries what matters
      await withDeadline(
        new Promise((resolve) => client.onopen = resolve),
        EVENT_DEADLINE,
        "open",
      );
      client.send(new Uint8Array(OVERSIZED));
      const event = await withDeadline(closed, EVENT_DEADLINE, "close");
      assert.equal(event.code, 1009, `attempt ${attempt}: ${event.reason}`);
      const report = await target.closeOf(path);
      assert.equal(report.code, 1009);
      assert.equal(report.wasClean, false);
    }
  } finally {
    await target.shutdown();
  }
});

Deno.test("serve: a raw client still writing an oversized frame reads the 1009 close frame, then a clean end of TCP", async () => {
  const target = new HardeningServer({ maxMessageSize: MAX_MESSAGE_SIZE });
  const path = target.uniquePath("oversized-raw");
  const client = await RawWebSocket.open(target.port, path);
  try {
    const frame = clientFrame(Opcode.Binary, new Uint8Array(OVERSIZED));
    await writeAll(client.conn, frame); // the server fails it from the header
    const close = await client.readClose();
    assert.equal(close.code, 1009);
    await client.expectEnd(); // throws on a reset
    assert.equal((await target.closeOf(path)).code, 1009);
  } finally {
    client.close();
    await target.shutdown();
  }
});

Deno.test("serve: a client that keeps sending after the failure is cut off after a bounded drain", async () => {
  const target = new HardeningServer({ maxMessageSize: MAX_MESSAGE_SIZE });
  const path = target.uniquePath("keeps-sending");
  const client = await RawWebSocket.open(target.port, path);
  try {
    await writeAll(
      client.conn,
      clientFrame(Opcode.Binary, new Uint8Array(MAX_MESSAGE_SIZE + 1)),
    );
    assert.equal((await target.closeOf(path)).code, 1009);
    // Garbage, forever: the server must close anyway.
    const chunk = new Uint8Array(64 * 1024);
    let written = 0;
    const cutOff = (async () => {
      try {
        while (written < 64 * DEFAULTS.limits.lingerMaxBytes) {
          written += await client.conn.write(chunk);
        }
        return false;
      } catch {
        return true; // EPIPE or reset: the server closed
      }
    })();
    assert.ok(
      await withDeadline(cutOff, EVENT_DEADLINE, "the server closing"),
      `the server took ${written} bytes after failing the connection`,
    );
  } finally {
    client.close();
    await target.shutdown();
  }
});

Deno.test("serve: a peer that sends a close frame and vanishes while the server has a backlog is released with its code", async () => {
  const opened = signal();
  const target = new HardeningServer({}, (socket) => {
    socket.onopen = () => {
      socket.send(new Uint8Array(4 * 1024 * 1024)); // never read
      opened.resolve();
    };
  });
  const path = target.uniquePath("close-and-vanish");
  const client = await RawWebSocket.open(target.port, path);
  try {
    await opened.promise;
    await client.send(clientFrame(Opcode.Close, closePayload(4002, "gone")));
  } finally {
    client.close();
  }
  try {
    assert.deepEqual(await target.closeOf(path), {
      code: 4002,
      reason: "gone",
      wasClean: true,
    });
  } finally {
    await target.shutdown();
  }
});

Deno.test("serve: a peer that stops answering (half-open) is dropped by the keepalive with 1006", async () => {
  const pingInterval = 200;
  const target = new HardeningServer({ pingInterval });
  const path = target.uniquePath("half-open");
  const client = await RawWebSocket.open(target.port, path);
  try {
    // The raw client answers nothing: its kernel ACKs, its "application"
    // is gone. The server pings, hears nothing back, drops it.
    const report = await target.closeOf(path);
    assert.deepEqual(report, { code: 1006, reason: "", wasClean: false });
    const frames = [];
    while (true) {
      try {
        frames.push((await client.readFrame()).opcode);
      } catch {
        break; // the end of TCP
      }
    }
    assert.ok(frames.length >= 1 && frames.every((op) => op === Opcode.Ping));
  } finally {
    client.close();
    await target.shutdown();
  }
});

Deno.test("serve: a peer that neither reads nor answers while the server has a backlog is dropped with 1006", async () => {
  const target = new HardeningServer({ pingInterval: 200 }, (socket) => {
    socket.onopen = () => socket.send(new Uint8Array(32 * 1024 * 1024));
  });
  const path = target.uniquePath("stuck-backlog");
  const client = await RawWebSocket.open(target.port, path);
  try {
    // Reading is paused for the backlog, which never drains: the paused
    // reads do not excuse the silence, since no byte is taken either.
    await client.send(concat(clientFrame(Opcode.Text, "hello")));
    const report = await target.closeOf(path);
    assert.deepEqual(report, { code: 1006, reason: "", wasClean: false });
    const unwritten = target.side(path).socket.bufferedAmount;
    assert.ok(
      unwritten > DEFAULTS.limits.writeHighWaterBytes,
      `the backlog was there to the end: ${unwritten} bytes never written`,
    );
  } finally {
    client.close();
    await target.shutdown();
  }
});
