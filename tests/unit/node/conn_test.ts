/**
 * NodeNetConn: a node:net socket as ByteConn reads and writes, over a real
 * loopback connection (node:net runs in Deno and Bun alike).
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import process from "node:process";
import { NODE_READ_HIGH_WATER_BYTES, NodeNetConn } from "../../../node/conn.ts";
import { isPoolSafe } from "../../../socket/transport.ts";

/** A connected pair: our side wrapped, the peer a plain socket. */
async function pair(): Promise<
  {
    conn: NodeNetConn;
    peer: net.Socket;
    socket: net.Socket;
    close(): Promise<void>;
  }
> {
  const accepted = Promise.withResolvers<net.Socket>();
  const server = net.createServer((socket) => accepted.resolve(socket));
  await new Promise<void>((resolve) =>
    server.listen({ port: 0, host: "127.0.0.1" }, resolve)
  );
  const { port } = server.address() as net.AddressInfo;
  const peer = net.connect(port, "127.0.0.1");
  const socket = await accepted.promise;
  const conn = new NodeNetConn(socket);
  return {
    conn,
    peer,
    socket,
    async close() {
      conn.close();
      peer.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function readExactly(conn: NodeNetConn, total: number) {
  const received = new Uint8Array(total);
  let filled = 0;
  while (filled < total) {
    const count = await conn.read(received.subarray(filled));
    assert.notEqual(count, null, "ended early");
    filled += count!;
  }
  return received;
}

describe("NodeNetConn", () => {
  test("reads into small buffers keep the remainder, in order", async () => {
    const { conn, peer, close } = await pair();
    try {
      const sent = new Uint8Array(10_000).map((_, i) => i & 0xff);
      peer.write(sent);
      const small = new Uint8Array(7);
      const first = await conn.read(small);
      assert.ok(first !== null && first > 0 && first <= 7);
      const rest = await readExactly(conn, sent.length - first!);
      assert.deepEqual(small.subarray(0, first!), sent.subarray(0, first!));
      assert.deepEqual(rest, sent.subarray(first!));
    } finally {
      await close();
    }
  });

  test("is marked pool-safe: a write settles once the kernel took the bytes", async () => {
    const { conn, peer, close } = await pair();
    try {
      assert.equal(isPoolSafe(conn), true);
      // What the mark relies on: bytes changed once their write settled
      // never reach the peer. 16 MiB written in one go is more than the
      // kernel's buffers take, so most of it waits in node:net's queue.
      const size = 256 * 1024;
      const count = 64;
      const received = new Uint8Array(size * count);
      let filled = 0;
      const all = Promise.withResolvers<void>();
      peer.on("data", (data: Uint8Array) => {
        received.set(data, filled);
        filled += data.length;
        if (filled === received.length) all.resolve();
      });
      const writes: Promise<void>[] = [];
      for (let index = 0; index < count; index++) {
        const bytes = new Uint8Array(size).fill(index);
        writes.push(
          conn.write(bytes).then((written) => {
            assert.equal(written, size);
            bytes.fill(0xee);
          }),
        );
      }
      await Promise.all([...writes, all.promise]);
      for (let index = 0; index < count; index++) {
        const block = received.subarray(index * size, (index + 1) * size);
        assert.equal(
          block.findIndex((byte) => byte !== index),
          -1,
          `block ${index}`,
        );
      }
    } finally {
      await close();
    }
  });

  test("a write the kernel takes only in part settles once all of it went out", async () => {
    const { conn, peer, close } = await pair();
    try {
      // The peer does not read at first, so 32 MiB cannot go out at once:
      // the write settles only after the peer read it (its memory may be
      // reused from then on).
      peer.pause();
      const size = 32 * 1024 * 1024;
      const bytes = new Uint8Array(size).fill(7);
      let settled = false;
      const written = conn.write(bytes).then((count) => {
        settled = true;
        bytes.fill(0xee);
        return count;
      });
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, false, "settled before the peer read");
      let received = 0;
      let wrong = 0;
      const all = Promise.withResolvers<void>();
      peer.on("data", (data: Uint8Array) => {
        for (const byte of data) if (byte !== 7) wrong++;
        received += data.length;
        if (received === size) all.resolve();
      });
      peer.resume();
      assert.equal(await written, size);
      await all.promise;
      assert.equal(wrong, 0);
    } finally {
      await close();
    }
  });

  test("hands chunks over as they come, as plain Uint8Arrays, and writeNow counts a write taken at once", async () => {
    const { conn, peer, close } = await pair();
    try {
      const taken = Promise.withResolvers<Uint8Array>();
      conn.readDirect((chunk) => {
        taken.resolve(chunk);
        return true;
      });
      const waiting = conn.read(new Uint8Array(16));
      peer.write(new Uint8Array([1, 2, 3]));
      const chunk = await taken.promise;
      // A Buffer's slice() is a view: the socket must get no Buffer.
      assert.equal(Object.getPrototypeOf(chunk), Uint8Array.prototype);
      assert.deepEqual(chunk, new Uint8Array([1, 2, 3]));
      const arrived = new Promise((resolve) => peer.once("data", resolve));
      assert.equal(conn.writeNow(new Uint8Array([9, 4, 5]), 1, 2), 2);
      assert.deepEqual(
        new Uint8Array(await arrived as Uint8Array),
        new Uint8Array([4, 5]),
      );
      conn.close();
      await assert.rejects(waiting);
    } finally {
      await close();
    }
  });

  test("writes resolve with their length and arrive in order", async () => {
    const { conn, peer, close } = await pair();
    try {
      const chunks: Uint8Array[] = [];
      const all = new Promise<void>((resolve) => {
        let size = 0;
        peer.on("data", (data: Uint8Array) => {
          chunks.push(data);
          size += data.length;
          if (size === 3) resolve();
        });
      });
      assert.equal(await conn.write(new Uint8Array([1, 2])), 2);
      assert.equal(await conn.write(new Uint8Array([3])), 1);
      await all;
      assert.deepEqual([...chunks.flatMap((chunk) => [...chunk])], [1, 2, 3]);
    } finally {
      await close();
    }
  });

  test("the peer's end is null after the last bytes", async () => {
    const { conn, peer, close } = await pair();
    try {
      peer.end(new Uint8Array([9, 9]));
      assert.deepEqual(await readExactly(conn, 2), new Uint8Array([9, 9]));
      assert.equal(await conn.read(new Uint8Array(10)), null);
    } finally {
      await close();
    }
  });

  test("a burst far past the high-water mark (pause, resume) arrives intact", async () => {
    const { conn, peer, close } = await pair();
    try {
      const total = NODE_READ_HIGH_WATER_BYTES * 8;
      const sent = new Uint8Array(total).map((_, i) => (i * 13) & 0xff);
      peer.write(sent);
      const received = await readExactly(conn, total);
      assert.deepEqual(received, sent);
    } finally {
      await close();
    }
  });

  test("many small writes read through a tiny buffer arrive intact", async () => {
    const { conn, peer, close } = await pair();
    try {
      // 3000 small writes, read 5 bytes at a time: the queue mostly holds a
      // partly read chunk (the case its compaction is for).
      const total = 3000 * 7;
      const sent = new Uint8Array(total).map((_, i) => (i * 31) & 0xff);
      for (let start = 0; start < total; start += 7) {
        peer.write(sent.subarray(start, start + 7));
      }
      const received = new Uint8Array(total);
      let filled = 0;
      while (filled < total) {
        const count = await conn.read(received.subarray(filled, filled + 5));
        assert.notEqual(count, null);
        filled += count!;
      }
      assert.deepEqual(received, sent);
    } finally {
      await close();
    }
  });

  test("under Node a socket is read in place, elsewhere through data events", async () => {
    // Reads in place rest on net.Socket's internal onread fields: if a Node
    // release moves them, the fallback to "data" events is silent, so this
    // says so under Node 24 (the CI's node --test).
    const { socket, close } = await pair();
    try {
      const versions = process.versions as Record<string, string | undefined>;
      const underNode = versions.bun === undefined &&
        versions.deno === undefined;
      assert.equal(socket.listenerCount("data"), underNode ? 0 : 1);
    } finally {
      await close();
    }
  });

  test("bytes that wait for a read stay intact while other sockets are read", async () => {
    // Under Node sockets are read in place, into one buffer for all: what
    // waits for a read must be a copy.
    const first = await pair();
    const second = await pair();
    try {
      const waiting = new Uint8Array(1000).fill(1);
      first.peer.write(waiting);
      // Round trips on the second socket until the first read its bytes.
      const echo = new Uint8Array(1000).fill(2);
      const buffer = new Uint8Array(1000);
      let rounds = 0;
      while (first.socket.bytesRead < waiting.length || rounds < 2) {
        second.peer.write(echo);
        assert.deepEqual(await readExactly(second.conn, echo.length), echo);
        rounds++;
      }
      const count = await first.conn.read(buffer);
      assert.equal(count, waiting.length);
      assert.deepEqual(buffer, waiting);
    } finally {
      await first.close();
      await second.close();
    }
  });

  test("close() ends a pending read and later writes fail", async () => {
    const { conn, close } = await pair();
    try {
      const pending = conn.read(new Uint8Array(10));
      conn.close();
      await assert.rejects(pending);
      await assert.rejects(conn.write(new Uint8Array([1])));
    } finally {
      await close();
    }
  });
});
