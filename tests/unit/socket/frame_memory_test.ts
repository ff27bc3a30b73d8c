/**
 * Reused frame memory never reaches a transport that may still hold the
 * bytes of a settled write: a socket pools frame memory only over the
 * transports marked pool-safe (this package's adapters), and a sans-I/O
 * `Protocol` gives every frame a buffer of its own unless told otherwise.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  attachConnection,
  createPendingSocket,
} from "../../../socket/websocket.ts";
import { isPoolSafe, markPoolSafe } from "../../../socket/transport.ts";
import { Protocol } from "../../../protocol/protocol.ts";
import { pooledFrames, SLAB_MAX_FRAME_BYTES } from "../../../frame/pool.ts";
import { Opcode } from "../../../frame/types.ts";
import { closeFrame, FakeConn } from "../../support/websocket.ts";

/** A transport that keeps the very bytes each write was given. */
class RetainingConn extends FakeConn {
  /** `data` of every write, as passed (not copied). */
  readonly kept: Uint8Array[] = [];

  override write(data: Uint8Array): Promise<number> {
    this.kept.push(data);
    return super.write(data);
  }
}

/** Sends messages one at a time, each written on its own before the next
 * is framed (so a pooled buffer would be given back and lent again). */
async function sendOneByOne(conn: RetainingConn): Promise<void> {
  const socket = createPendingSocket("server", { pingInterval: 0 });
  const done = attachConnection(socket, conn, new Uint8Array(0), {
    protocol: "",
    extensions: "",
  });
  for (let index = 0; index < 8; index++) {
    // Past the slab size: these frames are the pool's when pooling.
    socket.send(new Uint8Array(3 * SLAB_MAX_FRAME_BYTES).fill(index));
    await socket.drained();
    socket.send(`small ${index}`);
    await socket.drained();
  }
  conn.push(closeFrame(1000));
  await done;
}

describe("frame memory and transports", () => {
  test("a custom transport that keeps its writes' bytes never sees them change", async () => {
    const conn = new RetainingConn();
    await sendOneByOne(conn);
    assert.equal(conn.kept.length, conn.writes.length);
    // conn.writes holds copies taken at write time.
    conn.kept.forEach((bytes, index) => {
      const changed = bytes.findIndex((byte, at) =>
        byte !== conn.writes[index][at]
      );
      assert.equal(changed, -1, `write ${index} changed after it settled`);
    });
    const binary = conn.frames().filter((f) => f.opcode === Opcode.Binary);
    assert.deepEqual(binary.map((frame) => frame.payload[0]), [
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
    ]);
  });

  test("over a pool-safe transport frame memory is reused, bytes intact", async () => {
    const conn = new RetainingConn();
    markPoolSafe(conn);
    await sendOneByOne(conn);
    const large = conn.kept.filter((bytes) =>
      bytes.length > SLAB_MAX_FRAME_BYTES
    );
    const buffers = new Set(large.map((bytes) => bytes.buffer));
    assert.ok(buffers.size < large.length, "a lent buffer was reused");
    const binary = conn.frames().filter((f) => f.opcode === Opcode.Binary);
    assert.deepEqual(
      binary.map((frame) =>
        frame.payload.every((byte) => byte === frame.payload[0])
      ),
      Array(8).fill(true),
    );
  });

  test("only marked connections are pool-safe", () => {
    const conn = new FakeConn();
    assert.equal(isPoolSafe(conn), false);
    markPoolSafe(conn);
    assert.equal(isPoolSafe(conn), true);
  });
});

describe("Protocol frame memory", () => {
  test("by default every frame has a buffer of its own", () => {
    const protocol = new Protocol({ role: "server" });
    protocol.sendText("a");
    protocol.sendText("b");
    protocol.sendBinary(new Uint8Array(3 * SLAB_MAX_FRAME_BYTES));
    protocol.ping();
    const frames = protocol.takeOutgoing();
    assert.equal(new Set(frames.map((frame) => frame.buffer)).size, 4);
    for (const frame of frames) assert.equal(frame.byteOffset, 0);
    // Giving a frame back as the socket's writer would changes nothing.
    pooledFrames.release(frames[2]);
    protocol.sendBinary(new Uint8Array(3 * SLAB_MAX_FRAME_BYTES));
    assert.notEqual(protocol.takeOutgoing()[0].buffer, frames[2].buffer);
  });

  test("a custom allocator gets every data frame and pong", () => {
    const sizes: number[] = [];
    const protocol = new Protocol({
      role: "server",
      frameAllocator: {
        allocate(size) {
          sizes.push(size);
          return new Uint8Array(size);
        },
        trimLast() {},
        release() {},
      },
    });
    protocol.sendBinary(new Uint8Array(10));
    protocol.sendFragment(Opcode.Text, new Uint8Array(3), true);
    assert.deepEqual(sizes, [12, 5]);
  });
});
