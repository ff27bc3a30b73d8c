/**
 * The write queue as a `Protocol`'s frame sink: small frames encoded in
 * place lie back to back in the shared slab and go out in order with the
 * frames handed over whole; a transport with `writeNow` takes them at once
 * as a range of the slab, and `write` gets only what it did not take.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { FrameDecoder } from "../../../frame/decoder.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import {
  allocateFrameBytes,
  pooledFrames,
  SLAB_MAX_FRAME_BYTES,
} from "../../../frame/pool.ts";
import { type ByteWriter, WriteQueue } from "../../../socket/write_queue.ts";

/** What a writer was given, as copies taken at write time. */
interface Recorded {
  writes: Uint8Array[];
  tries: Uint8Array[];
}

/** A queue over `writer` and a protocol that encodes into it. */
function sinkPair(writer: ByteWriter, role: "server" | "client" = "server") {
  let idle = Promise.withResolvers<void>();
  const errors: unknown[] = [];
  const queue = new WriteQueue(writer, {
    writeIdle: () => idle.resolve(),
    writeError: (error) => errors.push(error),
  }, pooledFrames);
  const protocol = new Protocol({ role, frameAllocator: pooledFrames });
  protocol.setFrameSink(queue);
  return {
    queue,
    protocol,
    errors,
    idle: () => idle.promise.then(() => idle = Promise.withResolvers()),
  };
}

/** A writer without writeNow that records each write and takes it all. */
function asyncWriter(recorded: Recorded): ByteWriter {
  return {
    write(data) {
      recorded.writes.push(data.slice());
      return Promise.resolve(data.length);
    },
  };
}

/** Decodes the frames in `chunks`, joined. */
function decode(chunks: Uint8Array[], masked = false) {
  const decoder = new FrameDecoder({ expectMasked: masked });
  const frames: Array<{ opcode: number; payload: Uint8Array }> = [];
  for (const chunk of chunks) {
    decoder.push(chunk.slice());
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      frames.push({ opcode: frame.opcode, payload: frame.payload.slice() });
    }
  }
  return frames;
}

const text = new TextEncoder();

describe("WriteQueue as a frame sink", () => {
  test("frames encoded in place and frames handed over keep their order", async () => {
    const recorded: Recorded = { writes: [], tries: [] };
    const { protocol, queue, idle } = sinkPair(asyncWriter(recorded));
    const large = new Uint8Array(SLAB_MAX_FRAME_BYTES * 2).fill(5);
    protocol.sendText("one");
    protocol.sendBinary(new Uint8Array([1, 2, 3]));
    protocol.ping(new Uint8Array([9]));
    protocol.sendText("two, é");
    protocol.sendBinary(large);
    protocol.sendText("three");
    assert.equal(
      queue.bufferedAmount,
      5 + 5 + 3 + 9 + (4 + large.length) + 7,
      "every frame counts from the moment it is encoded",
    );
    assert.equal(protocol.bufferedOutgoing, 0);
    assert.equal(protocol.takeOutgoingFrame(), undefined);
    await idle();
    assert.equal(queue.bufferedAmount, 0);
    assert.deepEqual(decode(recorded.writes), [
      { opcode: Opcode.Text, payload: text.encode("one") },
      { opcode: Opcode.Binary, payload: new Uint8Array([1, 2, 3]) },
      { opcode: Opcode.Ping, payload: new Uint8Array([9]) },
      { opcode: Opcode.Text, payload: text.encode("two, é") },
      { opcode: Opcode.Binary, payload: large },
      { opcode: Opcode.Text, payload: text.encode("three") },
    ]);
  });

  test("frames queued before the sink was set go out first", async () => {
    const recorded: Recorded = { writes: [], tries: [] };
    let idle = Promise.withResolvers<void>();
    const queue = new WriteQueue(asyncWriter(recorded), {
      writeIdle: () => idle.resolve(),
      writeError: (error) => assert.fail(String(error)),
    }, pooledFrames);
    const protocol = new Protocol({
      role: "server",
      frameAllocator: pooledFrames,
    });
    protocol.sendText("before");
    protocol.setFrameSink(queue);
    protocol.sendText("after");
    assert.equal(protocol.bufferedOutgoing, 0);
    await idle.promise;
    idle = Promise.withResolvers();
    assert.deepEqual(
      decode(recorded.writes).map((frame) => frame.payload),
      [text.encode("before"), text.encode("after")],
    );
  });

  test("a burst is one write, and another queue's frames in between do not mix in", async () => {
    const first: Recorded = { writes: [], tries: [] };
    const second: Recorded = { writes: [], tries: [] };
    const a = sinkPair(asyncWriter(first));
    const b = sinkPair(asyncWriter(second));
    a.queue.hold();
    b.queue.hold();
    for (let index = 0; index < 40; index++) {
      a.protocol.sendText(`a${index}`);
      b.protocol.sendBinary(new Uint8Array([index]));
      // Another user of the slab cuts a frame of its own in between.
      allocateFrameBytes(7).fill(0xee);
    }
    a.queue.release();
    b.queue.release();
    await Promise.all([a.idle(), b.idle()]);
    assert.equal(first.writes.length, 1, "one write for the burst");
    assert.equal(second.writes.length, 1);
    assert.deepEqual(
      decode(first.writes).map((frame) =>
        new TextDecoder().decode(frame.payload)
      ),
      Array.from({ length: 40 }, (_, index) => `a${index}`),
    );
    assert.deepEqual(
      decode(second.writes).map((frame) => frame.payload[0]),
      Array.from({ length: 40 }, (_, index) => index),
    );
  });

  test("a client's frames encoded in place are masked", async () => {
    const recorded: Recorded = { writes: [], tries: [] };
    const { protocol, idle } = sinkPair(asyncWriter(recorded), "client");
    protocol.sendText("masked é");
    protocol.sendBinary(new Uint8Array([1, 2, 3, 4, 5]));
    await idle();
    const frames = decode(recorded.writes, true);
    assert.deepEqual(frames, [
      { opcode: Opcode.Text, payload: text.encode("masked é") },
      { opcode: Opcode.Binary, payload: new Uint8Array([1, 2, 3, 4, 5]) },
    ]);
  });

  test("writeNow takes the run as a range of its slab; write gets the rest", async () => {
    const recorded: Recorded = { writes: [], tries: [] };
    let ranges = 0;
    const writer: ByteWriter = {
      writeNow(data, offset, length) {
        ranges++;
        // Takes half of what it is offered, then nothing.
        const taken = ranges === 1 ? Math.floor(length / 2) : 0;
        recorded.tries.push(data.slice(offset, offset + taken));
        return taken;
      },
      write(data) {
        recorded.writes.push(data.slice());
        return Promise.resolve(data.length);
      },
    };
    const { protocol, queue, idle } = sinkPair(writer);
    queue.hold();
    for (let index = 0; index < 10; index++) protocol.sendText(`m${index}`);
    queue.release();
    await idle();
    assert.equal(recorded.writes.length, 1);
    assert.deepEqual(
      decode([...recorded.tries, ...recorded.writes]).map((frame) =>
        new TextDecoder().decode(frame.payload)
      ),
      Array.from({ length: 10 }, (_, index) => `m${index}`),
    );
    assert.equal(queue.bufferedAmount, 0);
  });

  test("a run taken whole by writeNow is done before release returns", () => {
    const taken: Uint8Array[] = [];
    let idleCalls = 0;
    const queue = new WriteQueue({
      writeNow(data, offset, length) {
        taken.push(data.slice(offset, offset + length));
        return length;
      },
      write: () => Promise.reject(new Error("write was not needed")),
    }, {
      writeIdle: () => idleCalls++,
      writeError: (error) => assert.fail(String(error)),
    }, pooledFrames);
    const protocol = new Protocol({
      role: "server",
      frameAllocator: pooledFrames,
    });
    protocol.setFrameSink(queue);
    queue.hold();
    protocol.sendText("x");
    protocol.sendText("y");
    assert.equal(queue.bufferedAmount, 6);
    queue.release();
    assert.equal(taken.length, 1);
    assert.equal(queue.bufferedAmount, 0);
    assert.equal(queue.idle, true);
    assert.equal(idleCalls, 1);
    assert.deepEqual(taken[0], new Uint8Array([0x81, 1, 0x78, 0x81, 1, 0x79]));
  });

  test("a writeNow that throws fails the queue and drops the rest", () => {
    const { queue, protocol, errors } = sinkPair({
      writeNow() {
        throw new Error("the connection is closed");
      },
      write: () => Promise.resolve(0),
    });
    queue.hold();
    protocol.sendText("lost");
    queue.release();
    assert.equal(errors.length, 1);
    assert.equal(queue.closed, true);
    assert.equal(queue.reserve(4), null, "a closed queue takes no frame");
    protocol.sendText("after");
    assert.equal(queue.close(), 6, "the frame that failed, never written");
  });

  test("discardQueued drops the frames encoded in place", async () => {
    const recorded: Recorded = { writes: [], tries: [] };
    const { protocol, queue, idle } = sinkPair(asyncWriter(recorded));
    queue.hold();
    protocol.sendText("dropped");
    assert.equal(queue.discardQueued(), 9);
    protocol.sendText("kept");
    queue.release();
    await idle();
    assert.deepEqual(
      decode(recorded.writes).map((frame) => frame.payload),
      [text.encode("kept")],
    );
  });

  test("a pre-encoded frame shared by many queues is written as given", async () => {
    const shared = encodeFrame(Opcode.Text, text.encode("to all"));
    const writes: Uint8Array[] = [];
    const { protocol, idle } = sinkPair({
      write(data) {
        writes.push(data);
        return Promise.resolve(data.length);
      },
    });
    protocol.sendEncodedFrame(shared);
    await idle();
    assert.equal(writes[0], shared, "not copied");
  });
});
