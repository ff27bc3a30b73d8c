/**
 * Outbound's gather writes: a large binary message goes to a transport that
 * offers `writevNow` as its header and the caller's payload, and what the
 * transport did not take is copied before `send` returns.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { pooledFrames } from "../../../frame/pool.ts";
import { FrameDecoder } from "../../../frame/decoder.ts";
import { Opcode } from "../../../frame/types.ts";
import {
  GATHER_WRITE_MIN_BYTES,
  Outbound,
  type OutboundHooks,
} from "../../../socket/outbound.ts";
import { InvalidStateError } from "../../../errors.ts";
import { concat } from "../../support/bytes.ts";

/** A transport that takes `takeAtOnce` bytes of each gather write. */
class GatherConn {
  takeAtOnce = Infinity;
  /** Every byte the transport took, in order. */
  readonly taken: Uint8Array[] = [];
  gatherWrites = 0;
  plainWrites = 0;

  writevNow(header: Uint8Array, payload: Uint8Array): number {
    this.gatherWrites++;
    const both = concat(header, payload);
    const count = Math.min(this.takeAtOnce, both.length);
    this.taken.push(both.slice(0, count));
    return count;
  }

  write(data: Uint8Array): Promise<number> {
    this.plainWrites++;
    this.taken.push(data.slice());
    return Promise.resolve(data.length);
  }

  /** The frames in what was taken. */
  frames(): { opcode: number; payload: Uint8Array }[] {
    const decoder = new FrameDecoder({ expectMasked: null });
    decoder.push(concat(...this.taken));
    const frames: { opcode: number; payload: Uint8Array }[] = [];
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      frames.push({ opcode: frame.opcode, payload: frame.payload.slice() });
    }
    return frames;
  }
}

const hooks: OutboundHooks = {
  sendFailed(error) {
    throw error;
  },
  writeFailed(error) {
    throw error;
  },
  outboundIdle() {},
};

function attached(role: "server" | "client" = "server") {
  const conn = new GatherConn();
  const protocol = new Protocol({ role, frameAllocator: pooledFrames });
  const outbound = new Outbound(1 << 30, hooks);
  outbound.attach(conn, protocol, pooledFrames);
  return { conn, protocol, outbound };
}

function pattern(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, index) => (index * 7 + seed) & 0xff);
}

describe("gather writes", () => {
  test("a large message goes out as header and payload, with no plain write", async () => {
    const { conn, outbound } = attached();
    const data = pattern(64 * 1024, 1);
    outbound.send({ kind: "binary", data });
    assert.equal(conn.gatherWrites, 1);
    assert.equal(outbound.bufferedAmount, 0);
    assert.equal(outbound.writtenBytes, 10 + 64 * 1024);
    await outbound.drained();
    assert.equal(conn.plainWrites, 0);
    const frames = conn.frames();
    assert.equal(frames.length, 1);
    assert.equal(frames[0].opcode, Opcode.Binary);
    assert.deepEqual(frames[0].payload, data);
  });

  for (const takeAtOnce of [0, 2, 1000]) {
    test(`what was not taken (${takeAtOnce} taken) is copied before send returns`, async () => {
      const { conn, outbound } = attached();
      conn.takeAtOnce = takeAtOnce;
      const data = pattern(GATHER_WRITE_MIN_BYTES, 2);
      const sent = data.slice();
      outbound.send({ kind: "binary", data });
      assert.equal(
        outbound.bufferedAmount,
        4 + GATHER_WRITE_MIN_BYTES - takeAtOnce,
      );
      data.fill(0); // the caller reuses its buffer at once
      await outbound.drained();
      assert.equal(conn.plainWrites, 1);
      assert.deepEqual(conn.frames()[0].payload, sent);
    });
  }

  test("a message queued behind another is framed as usual, in order", async () => {
    const { conn, outbound } = attached();
    const data = pattern(32 * 1024, 3);
    outbound.send({ kind: "text", data: "first" });
    outbound.send({ kind: "binary", data });
    assert.equal(conn.gatherWrites, 0);
    await outbound.drained();
    const frames = conn.frames();
    assert.deepEqual(frames.map((frame) => frame.opcode), [
      Opcode.Text,
      Opcode.Binary,
    ]);
    assert.deepEqual(frames[1].payload, data);
  });

  test("small messages and a client's masked ones are framed as usual", async () => {
    const server = attached();
    server.outbound.send({
      kind: "binary",
      data: pattern(GATHER_WRITE_MIN_BYTES - 1, 4),
    });
    await server.outbound.drained();
    assert.equal(server.conn.gatherWrites, 0);
    const client = attached("client");
    client.outbound.send({ kind: "binary", data: pattern(64 * 1024, 5) });
    await client.outbound.drained();
    assert.equal(client.conn.gatherWrites, 0);
    assert.equal(client.conn.plainWrites, 1);
  });

  test("Protocol.writeBinaryHeader checks the state as sendBinary does", () => {
    const protocol = new Protocol({ role: "server" });
    const header = new Uint8Array(14);
    assert.equal(
      protocol.writeBinaryHeader(header, new Uint8Array(70_000)),
      10,
    );
    assert.deepEqual(
      header.subarray(0, 10),
      new Uint8Array([0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]),
    );
    assert.equal(protocol.bufferedOutgoing, 0);
    protocol.close(1000);
    assert.throws(
      () => protocol.writeBinaryHeader(header, new Uint8Array(1)),
      InvalidStateError,
    );
  });
});
