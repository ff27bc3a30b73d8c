// permessage-deflate (RFC 7692) against a raw client that sends what no
// polite peer would: zip bombs, invalid DEFLATE data, RSV1 without
// agreement, an offer that repeats a parameter; and zlib's own output both
// ways.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { withDeadline } from "./peers/bounded.ts";
import {
  type DeflateEchoServer,
  startDeflateEchoServer,
} from "./peers/deflate_echo_server.ts";
import { encodeFrame } from "../../frame/encoder.ts";
import { FrameDecoder } from "../../frame/decoder.ts";
import { Opcode, RSV1 } from "../../frame/types.ts";
import { concat, encoder } from "../support/bytes.ts";
import { DEFAULTS } from "../../defaults.ts";

/** The echo server's answer (the default preset, 4 KiB windows) to a bare
 * offer: a client that cannot be bounded keeps no context. */
const AGREED =
  "permessage-deflate; client_no_context_takeover; server_max_window_bits=12";
/** ... and to an offer with client_max_window_bits: bounded to 12 bits. */
const AGREED_BOUNDED =
  "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12";

/** A raw connection to the server, with the 101 read and a frame reader. */
async function rawUpgrade(
  server: DeflateEchoServer,
  target: string,
  offer: string | null,
): Promise<{
  conn: Deno.Conn;
  status: number;
  extensions: string | null;
  nextFrame(): Promise<
    { opcode: number; rsv1: boolean; payload: Uint8Array } | null
  >;
}> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const head = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n" +
    (offer === null ? "" : `Sec-WebSocket-Extensions: ${offer}\r\n`) + "\r\n";
  await writeAll(conn, encoder.encode(head));
  let received: Uint8Array = new Uint8Array(0);
  let end = -1;
  while (end === -1) {
    const buffer = new Uint8Array(4096);
    const count = await conn.read(buffer);
    if (count === null) throw new Error("the server closed before its 101");
    received = concat(received, buffer.subarray(0, count));
    end = new TextDecoder().decode(received).indexOf("\r\n\r\n");
  }
  const headText = new TextDecoder().decode(received.subarray(0, end));
  const status = Number(headText.split(" ")[1]);
  let extensions: string | null = null;
  for (const line of headText.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (line.slice(0, colon).toLowerCase() === "sec-websocket-extensions") {
      extensions = line.slice(colon + 1).trim();
    }
  }
  const decoder = new FrameDecoder({
    expectMasked: false,
    allowedReservedBits: RSV1,
  });
  decoder.push(received.slice(end + 4));
  const nextFrame = async () => {
    for (;;) {
      const frame = decoder.next();
      if (frame !== undefined) {
        return {
          opcode: frame.opcode,
          rsv1: frame.rsv1,
          payload: frame.payload.slice(),
        };
      }
      const buffer = new Uint8Array(64 * 1024);
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch {
        count = null;
      }
      if (count === null) return null;
      decoder.push(buffer.subarray(0, count));
    }
  };
  return { conn, status, extensions, nextFrame };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * A message payload that inflates to `mebibytes` MiB of zeros: zlib's
 * output for 1 MiB of zeros after a sync flush (non-final blocks ending on
 * a byte boundary with `00 00 ff ff`), repeated, without the last four
 * bytes (RFC 7692 section 7.2.1). About 1 KiB per MiB.
 */
function zipBomb(mebibytes: number): Uint8Array {
  const block = deflateRawSync(new Uint8Array(1 << 20), {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  const bomb = new Uint8Array(block.length * mebibytes);
  for (let i = 0; i < mebibytes; i++) bomb.set(block, i * block.length);
  return bomb.subarray(0, bomb.length - 4);
}

/** Sends `payload` as one compressed binary message; returns the close. */
async function sendCompressedAndAwaitClose(
  client: Awaited<ReturnType<typeof rawUpgrade>>,
  payload: Uint8Array,
  rsv1 = true,
): Promise<{ code: number; reason: string; elapsed: number; ended: boolean }> {
  const started = performance.now();
  await writeAll(
    client.conn,
    encodeFrame(Opcode.Binary, payload, { mask: true, rsv1 }),
  );
  for (;;) {
    const frame = await client.nextFrame();
    if (frame === null) throw new Error("the server closed without a frame");
    if (frame.opcode !== Opcode.Close) continue;
    const elapsed = performance.now() - started;
    const code = (frame.payload[0] << 8) | frame.payload[1];
    const reason = new TextDecoder().decode(frame.payload.subarray(2));
    const ended = (await client.nextFrame()) === null;
    client.conn.close();
    return { code, reason, elapsed, ended };
  }
}

describe("permessage-deflate against a raw client", () => {
  let server: DeflateEchoServer | undefined;

  before(async () => {
    server = await startDeflateEchoServer();
  });

  after(async () => {
    await server?.close();
  });

  test("a 1 GiB zip bomb at the default 64 MiB limit: 1009, quickly, without the memory", async () => {
    assert.ok(server);
    const bomb = zipBomb(1024);
    assert.ok(bomb.length < 2 << 20, `${bomb.length} compressed bytes`);
    const client = await rawUpgrade(
      server,
      "/?check=bomb-1g",
      "permessage-deflate",
    );
    assert.equal(client.status, 101);
    assert.equal(client.extensions, AGREED);
    const rssBefore = Deno.memoryUsage().rss;
    const closed = await withDeadline(
      sendCompressedAndAwaitClose(client, bomb),
      20_000,
      "the close after a zip bomb",
    );
    const rssGrowth = Deno.memoryUsage().rss - rssBefore;
    console.log(
      `1 GiB bomb (${bomb.length} B): close ${closed.code} after ${
        closed.elapsed.toFixed(0)
      } ms, RSS +${(rssGrowth / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.equal(closed.code, 1009);
    assert.match(closed.reason, /inflates to more than/);
    assert.equal(closed.ended, true, "the server closed TCP");
    assert.ok(closed.elapsed < 10_000, "closed within 10 s");
    // Inflating it all would take a GiB; the limit stops it near 64 MiB.
    assert.ok(
      rssGrowth < 8 * DEFAULTS.socket.maxMessageSize,
      `RSS grew by ${rssGrowth} bytes`,
    );
    assert.equal(server.server.get("/?check=bomb-1g")?.messages, 0);
  });

  test("a 50 MiB zip bomb at a 64 KiB limit: 1009 within a second", async () => {
    assert.ok(server);
    const client = await rawUpgrade(
      server,
      "/?check=bomb-small-limit&max=65536",
      "permessage-deflate",
    );
    assert.equal(client.extensions, AGREED);
    const bomb = zipBomb(50);
    assert.ok(bomb.length < 65536, "the compressed message fits the limit");
    const closed = await withDeadline(
      sendCompressedAndAwaitClose(client, bomb),
      10_000,
      "the close after a zip bomb",
    );
    assert.equal(closed.code, 1009);
    assert.equal(closed.ended, true);
    assert.ok(closed.elapsed < 1000, `${closed.elapsed} ms`);
  });

  test("invalid DEFLATE data: 1007", async () => {
    assert.ok(server);
    const client = await rawUpgrade(
      server,
      "/?check=invalid-deflate",
      "permessage-deflate",
    );
    const closed = await sendCompressedAndAwaitClose(
      client,
      new Uint8Array([0xff, 0xff, 0xff, 0xff]),
    );
    assert.equal(closed.code, 1007);
    assert.equal(closed.ended, true);
  });

  test("RSV1 when the client offered nothing: 1002", async () => {
    assert.ok(server);
    const client = await rawUpgrade(server, "/?check=rsv1-unagreed", null);
    assert.equal(client.status, 101);
    assert.equal(client.extensions, null);
    const payload = deflateRawSync(encoder.encode("hello"));
    const closed = await sendCompressedAndAwaitClose(client, payload);
    assert.equal(closed.code, 1002);
  });

  test("an offer repeating a parameter is declined and the next one accepted", async () => {
    assert.ok(server);
    const repeated =
      "permessage-deflate; client_max_window_bits; client_max_window_bits";
    const first = await rawUpgrade(
      server,
      "/?check=repeated-then-good",
      `${repeated}, permessage-deflate; client_max_window_bits`,
    );
    assert.equal(first.status, 101);
    assert.equal(first.extensions, AGREED_BOUNDED);
    first.conn.close();
    const only = await rawUpgrade(server, "/?check=repeated-only", repeated);
    assert.equal(only.status, 101, "declined, not refused");
    assert.equal(only.extensions, null);
    only.conn.close();
  });

  test("zlib's sync-flushed message is read, and zlib reads the compressed echo", async () => {
    assert.ok(server);
    const client = await rawUpgrade(
      server,
      "/?check=zlib-text",
      "permessage-deflate; client_max_window_bits",
    );
    const message = "zlib ".repeat(1000);
    const compressed = deflateRawSync(encoder.encode(message), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    await writeAll(
      client.conn,
      encodeFrame(Opcode.Text, compressed.subarray(0, compressed.length - 4), {
        mask: true,
        rsv1: true,
      }),
    );
    const echo = await client.nextFrame();
    assert.ok(echo);
    assert.equal(echo.opcode, Opcode.Text);
    assert.equal(echo.rsv1, true, "the echo went compressed");
    // What a zlib-based receiver (ws, Python, Chromium) does: append the
    // tail and inflate with a sync flush.
    const inflated = inflateRawSync(
      concat(echo.payload, new Uint8Array([0x00, 0x00, 0xff, 0xff])),
      { finishFlush: constants.Z_SYNC_FLUSH },
    );
    assert.equal(new TextDecoder().decode(inflated), message);
    client.conn.close();
  });
});
