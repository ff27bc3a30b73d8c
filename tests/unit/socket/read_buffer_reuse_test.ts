/**
 * Binary messages from `Protocol.receive` may be views into the chunk it was
 * given (no copy per message), while the socket reuses one read buffer for
 * every read. These tests overwrite that memory the way the next read does
 * and check that nothing the application holds changes.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../../protocol/protocol.ts";
import { encodeFrame } from "../../../frame/encoder.ts";
import { Opcode } from "../../../frame/types.ts";
import { deflateMessage } from "../../../deflate/payload.ts";
import {
  closeFrame,
  maskedFrame,
  openSocket,
} from "../../support/websocket.ts";
import {
  compressedFrame,
  openDeflateSocket,
} from "../../support/deflate_socket.ts";

describe("Protocol: binary messages without a copy", () => {
  test("a one-frame message is a view into the chunk given to receive", () => {
    const protocol = new Protocol({ role: "server" });
    const chunk = encodeFrame(Opcode.Binary, new Uint8Array([1, 2, 3]), {
      mask: true,
    });
    const [event] = protocol.receive(chunk);
    assert.equal(event.type, "binary");
    if (event.type !== "binary") return;
    assert.deepEqual(event.data, new Uint8Array([1, 2, 3]));
    assert.equal(event.data.buffer, chunk.buffer, "shares the chunk's memory");
  });

  test("a fragmented message owns its bytes once it is complete", () => {
    const protocol = new Protocol({ role: "server" });
    const first = encodeFrame(Opcode.Binary, new Uint8Array([1, 2]), {
      mask: true,
      fin: false,
    });
    const last = encodeFrame(Opcode.Continuation, new Uint8Array([3]), {
      mask: true,
    });
    assert.deepEqual(protocol.receive(first), []);
    const [event] = protocol.receive(last);
    first.fill(0xee);
    last.fill(0xee);
    assert.equal(event.type, "binary");
    if (event.type !== "binary") return;
    assert.deepEqual(event.data, new Uint8Array([1, 2, 3]));
  });
});

describe("socket: the reused read buffer never changes a delivered message", () => {
  test("a binary message waiting for `for await` survives later reads", async () => {
    // A fixed-size buffer: every read lands at the same offsets.
    const { socket, conn, done } = openSocket({ readBufferSize: 1024 });
    const iterator = socket[Symbol.asyncIterator]();
    conn.push(maskedFrame(Opcode.Binary, new Uint8Array([1, 1, 1, 1])));
    conn.push(maskedFrame(Opcode.Binary, new Uint8Array([2, 2, 2, 2])));
    conn.push(maskedFrame(Opcode.Close, new Uint8Array([0x03, 0xe8])));
    await done;
    assert.deepEqual(
      (await iterator.next()).value,
      new Uint8Array([1, 1, 1, 1]),
    );
    assert.deepEqual(
      (await iterator.next()).value,
      new Uint8Array([2, 2, 2, 2]),
    );
    assert.equal((await iterator.next()).done, true);
  });

  test("a binary message handed to onmessage is an exact ArrayBuffer", async () => {
    const { socket, conn, done } = openSocket({ readBufferSize: 1024 });
    const seen: ArrayBuffer[] = [];
    socket.onmessage = (event) => seen.push(event.data);
    conn.push(maskedFrame(Opcode.Binary, new Uint8Array([5, 6, 7])));
    conn.push(maskedFrame(Opcode.Binary, new Uint8Array([8, 9, 10])));
    conn.push(maskedFrame(Opcode.Close, new Uint8Array([0x03, 0xe8])));
    await done;
    assert.deepEqual(seen.map((data) => [...new Uint8Array(data)]), [
      [5, 6, 7],
      [8, 9, 10],
    ]);
  });
});

describe("socket: messages after a compressed one in the same read", () => {
  test("binary bytes behind an inflated message survive later reads", async () => {
    const { socket, conn, done } = openDeflateSocket(0, {
      readBufferSize: 1024,
    });
    const iterator = socket[Symbol.asyncIterator]();
    const deflated = await deflateMessage(new TextEncoder().encode("zipped"));
    conn.push(
      new Uint8Array([
        ...compressedFrame(Opcode.Text, deflated),
        ...maskedFrame(Opcode.Binary, new Uint8Array([4, 5, 6])),
      ]),
    );
    // Same size, same offsets: this read overwrites the previous one.
    conn.push(
      new Uint8Array([
        ...compressedFrame(Opcode.Text, deflated),
        ...maskedFrame(Opcode.Binary, new Uint8Array([7, 8, 9])),
      ]),
    );
    conn.push(closeFrame(1000));
    await done;
    const received = [];
    for await (const message of iterator) received.push(message);
    assert.deepEqual(received, [
      "zipped",
      new Uint8Array([4, 5, 6]),
      "zipped",
      new Uint8Array([7, 8, 9]),
    ]);
  });
});
