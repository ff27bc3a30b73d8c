// Deno only: nothing lost, nothing unbounded, when a peer does not read or
// the application does not keep up. A server socket stops reading while
// its write backlog is above the high-water mark (TCP pushes back on the
// peer), automatic pongs count against maxQueuedBytes, a `for await` loop
// that falls behind and a message being inflated pause reading too.
// Deno.test, so the sanitizers check that nothing leaks.
import assert from "node:assert/strict";
import { Opcode } from "../../frame/types.ts";
import { deflateMessage } from "../../deflate/payload.ts";
import { NO_CONTEXT_TAKEOVER } from "../support/deflate_socket.ts";
import { encodeFrame } from "../../frame/encoder.ts";
import {
  attachConnection,
  createPendingSocket,
  type WebSocketConnection,
} from "../../socket/websocket.ts";
import { concat, RawWebSocket } from "../support/raw_ws_client_deno.ts";

/** A fixed read buffer for tests that count reads. */
const FIXED_READ_BUFFER = 16 * 1024;
import { clientFrame, closePayload } from "../support/raw_ws_client_deno.ts";
import {
  closeCodeOf,
  closeFrame,
  FakeConn,
  maskedFrame,
  openSocket,
} from "../support/websocket.ts";
import {
  HardeningServer,
  pingBatch,
  sequenceOf,
  signal,
  writeOrStall,
} from "../support/hardening_deno.ts";
import { DEFAULTS } from "../../defaults.ts";

/** A batch of pings the flood writes at a time: 1000 frames, 131 kB. */
const PINGS_PER_BATCH = 1000;
/** The flood gives up (and fails) after this many bytes without a stall. */
const FLOOD_LIMIT = 128 * 1024 * 1024;
/** One read's worth of pongs: a read of pings (at most the largest read
 * buffer) adds at most this much. */
const ONE_READ_OF_PONGS = DEFAULTS.limits.maxReadBufferSize;

Deno.test("pongs that a read adds past maxQueuedBytes while bytes wait fail the connection with 1008", async () => {
  // A fixed 16 KiB read buffer: the ten pings below arrive in one read.
  const { socket, conn, log, done } = openSocket({
    maxQueuedBytes: 1000,
    readBufferSize: 16 * 1024,
  });
  conn.hold(); // the peer reads nothing
  const pings = signal();
  let pingCount = 0;
  socket.addEventListener("ping", () => {
    if (++pingCount === 11) pings.resolve();
  });
  const ping = maskedFrame(Opcode.Ping, new Uint8Array(125));
  conn.push(ping); // its pong (127 bytes) waits in the writer
  conn.push(concat(...new Array<Uint8Array>(10).fill(ping))); // +1270 bytes
  conn.push(closeFrame(1000));
  await pings.promise;
  conn.release();
  await done;
  const frames = conn.frames();
  assert.deepEqual(
    frames.map((frame) => frame.opcode),
    [Opcode.Pong, Opcode.Close],
    "the pong being written, then the close frame; the other pongs dropped",
  );
  assert.equal(closeCodeOf(frames[1]), 1008);
  assert.deepEqual(log, [
    "open",
    "error",
    "close:1008:send queue full:unclean",
  ]);
});

Deno.test("a client-side socket's pongs count against maxQueuedBytes too", async () => {
  const { socket, conn, log, done } = openSocket(
    { maxQueuedBytes: 1000, readBufferSize: 16 * 1024 },
    "client",
  );
  conn.hold();
  const pings = signal();
  let pingCount = 0;
  socket.addEventListener("ping", () => {
    if (++pingCount === 11) pings.resolve();
  });
  const serverPing = encodeFrame(Opcode.Ping, new Uint8Array(125));
  conn.push(serverPing);
  conn.push(concat(...new Array<Uint8Array>(10).fill(serverPing)));
  conn.push(encodeFrame(Opcode.Close, closePayload(1000)));
  await pings.promise;
  conn.release();
  conn.end(); // the server closes TCP after the close handshake
  await done;
  assert.deepEqual(log, [
    "open",
    "error",
    "close:1008:send queue full:unclean",
  ]);
});

Deno.test("serve: a ping flood from a client that does not read is pushed back, and every ping is answered once it reads", async () => {
  const highWater = DEFAULTS.limits.writeHighWaterBytes; // maxQueuedBytes is the default
  let peakBacklog = 0;
  const target = new HardeningServer({}, (socket) => {
    socket.addEventListener("ping", () => {
      peakBacklog = Math.max(peakBacklog, socket.bufferedAmount);
    });
  });
  const path = target.uniquePath("ping-flood");
  const client = await RawWebSocket.open(target.port, path);
  try {
    let sent = 0;
    let stalledWrite: Promise<void> | null = null;
    while (sent * 131 < FLOOD_LIMIT) {
      const batch = pingBatch(sent, PINGS_PER_BATCH);
      const { outcome, pending } = await writeOrStall(client.conn, batch);
      sent += PINGS_PER_BATCH;
      if (outcome === "stalled") {
        stalledWrite = pending;
        break;
      }
    }
    assert.ok(
      stalledWrite,
      `the server took ${sent} pings without pushing back`,
    );
    const side = target.side(path);
    assert.equal(side.socket.readyState, 1, "still open: nothing failed");
    assert.ok(
      peakBacklog <= highWater + ONE_READ_OF_PONGS,
      `the server's backlog reached ${peakBacklog} bytes`,
    );
    // Now read: one pong per ping, in order, nothing lost.
    for (let expected = 0; expected < sent; expected++) {
      const frame = await client.readFrame();
      assert.equal(frame.opcode, Opcode.Pong);
      assert.equal(sequenceOf(frame.payload), expected);
    }
    await stalledWrite;
    await client.send(clientFrame(Opcode.Close, closePayload(1000)));
    assert.equal((await client.readClose()).code, 1000);
    await client.expectEnd();
    assert.deepEqual(await target.closeOf(path), {
      code: 1000,
      reason: "",
      wasClean: true,
    });
  } finally {
    client.close();
    await target.shutdown();
  }
});

Deno.test("serve: an application that sends to a peer that never reads fails the connection with 1008, with the backlog bounded", async () => {
  const maxQueuedBytes = 1024 * 1024;
  const message = new Uint8Array(64 * 1024);
  let peakBacklog = 0;
  let sends = 0;
  const target = new HardeningServer(
    { maxQueuedBytes, closeTimeout: 500 },
    (socket) => {
      socket.onopen = async () => {
        // A producer that ignores drained(): it only yields to the loop.
        while (socket.readyState === socket.OPEN) {
          socket.send(message);
          sends++;
          peakBacklog = Math.max(peakBacklog, socket.bufferedAmount);
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      };
    },
  );
  const path = target.uniquePath("never-reads");
  const client = await RawWebSocket.open(target.port, path);
  try {
    const report = await target.closeOf(path);
    assert.equal(report.code, 1008, JSON.stringify(report));
    assert.equal(report.wasClean, false);
    assert.ok(
      peakBacklog <= maxQueuedBytes + message.length + 10,
      `backlog ${peakBacklog} after ${sends} sends`,
    );
  } finally {
    client.close();
    await target.shutdown();
  }
});

Deno.test("serve: a `for await` loop that falls behind stops the reading; once it catches up every message arrives in order", async () => {
  const gate = signal();
  const received: number[] = [];
  const allReceived = signal();
  const MESSAGE_BYTES = 64 * 1024;
  let expected = Infinity;
  const target = new HardeningServer({}, (socket: WebSocketConnection) => {
    socket.onopen = async () => {
      // Iterating from the start, but busy elsewhere until the gate opens.
      const messages = socket[Symbol.asyncIterator]();
      await gate.promise;
      while (true) {
        const next = await messages.next();
        if (next.done) return;
        const bytes = next.value as Uint8Array;
        received.push(
          new DataView(bytes.buffer, bytes.byteOffset).getUint32(0),
        );
        if (received.length === expected) allReceived.resolve();
      }
    };
  });
  const path = target.uniquePath("slow-consumer");
  const client = await RawWebSocket.open(target.port, path);
  try {
    let sent = 0;
    let stalledWrite: Promise<void> | null = null;
    while (sent * MESSAGE_BYTES < FLOOD_LIMIT) {
      const batch: Uint8Array[] = [];
      for (let index = 0; index < 16; index++) {
        const payload = new Uint8Array(MESSAGE_BYTES);
        new DataView(payload.buffer).setUint32(0, sent + index);
        batch.push(clientFrame(Opcode.Binary, payload));
      }
      const { outcome, pending } = await writeOrStall(
        client.conn,
        concat(...batch),
      );
      sent += batch.length;
      if (outcome === "stalled") {
        stalledWrite = pending;
        break;
      }
    }
    assert.ok(
      stalledWrite,
      `the server took ${sent} messages without pushing back`,
    );
    expected = sent;
    gate.resolve();
    await stalledWrite;
    await allReceived.promise;
    assert.deepEqual(
      received,
      Array.from({ length: sent }, (_, index) => index),
    );
    await client.send(clientFrame(Opcode.Close, closePayload(1000)));
    assert.equal((await client.readClose()).code, 1000);
    assert.equal((await target.closeOf(path)).wasClean, true);
  } finally {
    client.close();
    await target.shutdown();
  }
});

Deno.test("a message being inflated pauses reading: nothing more is read until it is delivered", async () => {
  // A fixed buffer, so the reads the message takes can be counted.
  const socket = createPendingSocket("server", {
    pingInterval: 0,
    readBufferSize: FIXED_READ_BUFFER,
  });
  const conn = new FakeConn();
  const done = attachConnection(socket, conn, new Uint8Array(0), {
    protocol: "",
    extensions: "permessage-deflate",
    perMessageDeflate: { params: NO_CONTEXT_TAKEOVER },
  });
  const text = "compressible ".repeat(100_000);
  const deflated = await deflateMessage(new TextEncoder().encode(text));
  const compressed = encodeFrame(Opcode.Text, deflated, {
    mask: true,
    rsv1: true,
  });
  assert.equal(compressed[0] & 0x40, 0x40, "RSV1 is set");
  const readsAtMessage = signal<number>();
  socket.onmessage = () => readsAtMessage.resolve(conn.reads);
  conn.push(compressed);
  conn.push(maskedFrame(Opcode.Ping, "after"));
  const reads = await readsAtMessage.promise;
  // The first read() took the compressed frame (as one chunk or a few
  // reads of the buffer's size); none was started for the ping.
  const readsForMessage = Math.ceil(compressed.length / FIXED_READ_BUFFER);
  assert.equal(reads, readsForMessage);
  conn.push(closeFrame(1000));
  await done;
});
