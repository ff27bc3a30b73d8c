// Deno only: the connections of the Deno adapter (accepted, dialed, over
// TCP and TLS) are marked pool-safe, so their sockets reuse frame memory,
// and connect() keeps that mark through its hand-over wrapper while a
// dialer's own connection gets a buffer per frame. Bun's run excludes
// tests/*_deno_test.ts.
import assert from "node:assert/strict";
import { listenDeno } from "../../deno/listen.ts";
import { dialDeno } from "../../deno/dial.ts";
import { connectWith } from "../../client/connect.ts";
import {
  type ByteConn,
  isPoolSafe,
  markPoolSafe,
} from "../../socket/transport.ts";
import { serve, upgradeWebSocket } from "../../mod.ts";
import { describe, test } from "../support/client_deno.ts";
import { TEST_CERT, TEST_KEY } from "../support/test_cert.ts";

describe("pool-safe transports", () => {
  for (const secure of [false, true]) {
    test(`accepted and dialed ${secure ? "TLS" : "TCP"} connections are marked`, async () => {
      const source = listenDeno({
        port: 0,
        hostname: "127.0.0.1",
        ...(secure ? { cert: TEST_CERT, key: TEST_KEY } : {}),
      });
      const accepted = Promise.withResolvers<ByteConn>();
      const accepting = source.accept(
        (conn) => accepted.resolve(conn),
        (error) => accepted.reject(error),
      );
      const dialing = dialDeno({
        secure,
        hostname: "127.0.0.1",
        port: source.addr.port,
        caCerts: secure ? [TEST_CERT] : undefined,
        signal: new AbortController().signal,
        track() {},
      });
      const conn = await accepted.promise;
      // A read drives the server's side of the TLS handshake; it ends once
      // the client closes.
      const reading = conn.read(new Uint8Array(1)).catch(() => null);
      const dialed = await dialing;
      try {
        assert.equal(isPoolSafe(conn), true, "accepted");
        assert.equal(isPoolSafe(dialed), true, "dialed");
      } finally {
        dialed.close();
        await reading;
        conn.close();
        source.close();
        await accepting;
      }
    });
  }

  /** A connection that keeps the bytes of every write it passes on. */
  class KeepingConn implements ByteConn {
    readonly kept: Uint8Array[] = [];
    readonly #conn: ByteConn;
    constructor(conn: ByteConn) {
      this.#conn = conn;
    }
    read(buffer: Uint8Array): Promise<number | null> {
      return this.#conn.read(buffer);
    }
    write(data: Uint8Array): Promise<number> {
      this.kept.push(data);
      return this.#conn.write(data);
    }
    close(): void {
      this.#conn.close();
    }
  }

  for (const marked of [true, false]) {
    test(`connect() over a ${marked ? "pool-safe" : "custom"} dialed connection ${marked ? "reuses" : "never reuses"} frame memory`, async () => {
      const received = Promise.withResolvers<void>();
      let count = 0;
      const server = serve(
        { port: 0, hostname: "127.0.0.1", onListen() {} },
        (request) => {
          const { socket, response } = upgradeWebSocket(request);
          socket.onmessage = () => {
            if (++count === 2) received.resolve();
          };
          return response;
        },
      );
      let keeping: KeepingConn | undefined;
      try {
        const socket = await connectWith(async (target) => {
          keeping = new KeepingConn(await dialDeno(target));
          if (marked) markPoolSafe(keeping);
          return keeping;
        }, `ws://127.0.0.1:${server.addr.port}/`);
        for (let index = 0; index < 2; index++) {
          socket.send(new Uint8Array(8 * 1024).fill(index));
          await socket.drained();
        }
        await received.promise;
        const closed = new Promise((resolve) => socket.onclose = resolve);
        socket.close(1000);
        await closed;
        const frames = keeping!.kept.filter((bytes) => bytes.length > 8192);
        assert.equal(frames.length, 2);
        assert.equal(frames[0].buffer === frames[1].buffer, marked);
      } finally {
        await server.shutdown();
      }
    });
  }
});
