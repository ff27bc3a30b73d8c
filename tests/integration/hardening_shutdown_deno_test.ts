// Deno only: graceful shutdown loses nothing. Every message the server's
// handler accepted with send() before shutdown() reaches the client before
// the 1001 close frame (compressed ones and Blobs too); every message the
// client sent before its close frame reaches the handler, even those that
// arrive after the server's 1001 went out; `deno task serve` does this on
// SIGTERM and SIGINT and exits 0. Deno.test's sanitizers check that no
// timer, op or resource is left behind.
import assert from "node:assert/strict";
import { constants as zlib, inflateRawSync } from "node:zlib";
import { Opcode } from "../../frame/types.ts";
import { perMessageDeflate } from "../../deflate.ts";
import { withDeadline } from "../interop/peers/bounded.ts";
import {
  clientFrame,
  closePayload,
  concat,
  RawWebSocket,
} from "../support/raw_ws_client_deno.ts";
import { EVENT_DEADLINE, HardeningServer } from "../support/hardening_deno.ts";

const OFFER_DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate\r\n";

/** The i-th message the server sends: text, binary, Blob, in turn. */
function serverMessage(index: number): string | Uint8Array | Blob {
  if (index % 3 === 0) return `text ${index} ` + "lorem ipsum ".repeat(index);
  if (index % 3 === 1) return new Uint8Array(1000 + index * 50).fill(index);
  return new Blob([`blob ${index}`]);
}

/** What the client should read for `serverMessage(index)`. */
async function expectedBytes(index: number): Promise<Uint8Array> {
  const message = serverMessage(index);
  if (typeof message === "string") return new TextEncoder().encode(message);
  if (message instanceof Blob) {
    return new Uint8Array(await message.arrayBuffer());
  }
  return message;
}

function payloadOf(frame: { payload: Uint8Array; rsv1: boolean }): Uint8Array {
  if (!frame.rsv1) return frame.payload;
  return new Uint8Array(inflateRawSync(
    concat(frame.payload, new Uint8Array([0, 0, 0xff, 0xff])),
    { finishFlush: zlib.Z_SYNC_FLUSH },
  ));
}

for (const deflate of [false, true]) {
  const label = deflate ? "with permessage-deflate" : "uncompressed";
  Deno.test(`serve: shutdown() sends every message accepted before it, then 1001 (${label})`, async () => {
    const count = 120;
    let shuttingDown: Promise<void> | undefined;
    const target: HardeningServer = new HardeningServer(
      // Shared: no context takeover, so each frame inflates on its own.
      {
        perMessageDeflate: deflate
          ? perMessageDeflate({ preset: "shared", threshold: 64 })
          : false,
      },
      (socket) => {
        socket.onmessage = () => {
          for (let index = 0; index < count; index++) {
            socket.send(serverMessage(index));
          }
          shuttingDown = target.shutdown();
        };
      },
    );
    const path = target.uniquePath(`send-then-shutdown-${deflate}`);
    const client = await RawWebSocket.open(
      target.port,
      path,
      deflate ? OFFER_DEFLATE : "",
    );
    try {
      await client.send(clientFrame(Opcode.Text, "go"));
      let compressed = 0;
      for (let index = 0; index < count; index++) {
        const frame = await client.readFrame();
        assert.notEqual(frame.opcode, Opcode.Close, `message ${index} missing`);
        if (frame.rsv1) compressed++;
        assert.deepEqual(payloadOf(frame), await expectedBytes(index));
      }
      if (deflate) {
        assert.ok(compressed > count / 3, `${compressed} compressed`);
      }
      const close = await client.readClose();
      assert.equal(close.code, 1001);
      await client.send(clientFrame(Opcode.Close, closePayload(1001)));
      await client.expectEnd();
      assert.ok(shuttingDown, "the handler started the shutdown");
      await withDeadline(shuttingDown, EVENT_DEADLINE, "shutdown");
      assert.deepEqual(await target.closeOf(path), {
        code: 1001,
        reason: "",
        wasClean: true,
      });
    } finally {
      client.close();
      await target.shutdown();
    }
  });
}

for (const deflate of [false, true]) {
  const label = deflate ? "with permessage-deflate" : "uncompressed";
  Deno.test(`serve: during shutdown the handler still sees every message the client sent before its close frame (${label})`, async () => {
    const received: string[] = [];
    let shuttingDown: Promise<void> | undefined;
    const iterated: string[] = [];
    const target: HardeningServer = new HardeningServer(
      { perMessageDeflate: deflate ? perMessageDeflate() : false },
      (socket) => {
        socket.onopen = async () => {
          for await (const message of socket) iterated.push(String(message));
        };
        socket.onmessage = (event) => {
          received.push(event.data);
          shuttingDown ??= target.shutdown();
        };
      },
    );
    const path = target.uniquePath(`receive-during-shutdown-${deflate}`);
    const client = await RawWebSocket.open(
      target.port,
      path,
      deflate ? OFFER_DEFLATE : "",
    );
    const compressedFrame = async (text: string): Promise<Uint8Array> => {
      const stream = new Blob([text]).stream().pipeThrough(
        new CompressionStream("deflate-raw"),
      );
      const deflated = new Uint8Array(await new Response(stream).arrayBuffer());
      const frame = clientFrame(Opcode.Text, deflated);
      frame[0] |= 0x40; // RSV1: compressed
      return frame;
    };
    const frameOf = (text: string) =>
      deflate && text.endsWith("z")
        ? compressedFrame(text)
        : clientFrame(Opcode.Text, text);
    const expected: string[] = [];
    try {
      // One write: the first message starts the shutdown; the others are
      // in the same read or the next ones.
      const first: Uint8Array[] = [];
      for (let index = 0; index < 40; index++) {
        const text = `before ${index} ` + (index % 2 === 0 ? "z" : "y");
        expected.push(text);
        first.push(await frameOf(text));
      }
      await client.send(concat(...first));
      assert.equal((await client.readClose()).code, 1001);
      // Sent after the server's close arrived, before ours: still delivered.
      const late: Uint8Array[] = [];
      for (let index = 0; index < 5; index++) {
        const text = `late ${index} z`;
        expected.push(text);
        late.push(await frameOf(text));
      }
      late.push(clientFrame(Opcode.Close, closePayload(1001)));
      await client.send(concat(...late));
      await client.expectEnd();
      assert.deepEqual(await target.closeOf(path), {
        code: 1001,
        reason: "",
        wasClean: true,
      });
      assert.deepEqual(received, expected);
      assert.deepEqual(iterated, expected);
      await withDeadline(shuttingDown!, EVENT_DEADLINE, "shutdown");
    } finally {
      client.close();
      await target.shutdown();
    }
  });
}

Deno.test("deno task serve: SIGTERM closes a connected client with 1001 and the process exits 0", async () => {
  await signalTest("SIGTERM");
});

Deno.test("deno task serve: SIGINT does the same", async () => {
  await signalTest("SIGINT");
});

async function signalTest(signalName: Deno.Signal): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read=./examples/echo/static",
      "--allow-env=PORT,HOST",
      "examples/echo/server.ts",
      "--port",
      "0",
      "--hostname",
      "127.0.0.1",
    ],
    cwd: new URL("../..", import.meta.url),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  let exited = false;
  const status = child.status.then((value) => {
    exited = true;
    return value;
  });
  try {
    let port = 0;
    while (port === 0) {
      const { value, done } = await withDeadline(
        lines.read(),
        EVENT_DEADLINE,
        "the echo server's address",
      );
      if (done) throw new Error(`the echo server ended: ${output}`);
      output += value;
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(output);
      if (match) port = Number(match[1]);
    }
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
    const closed = new Promise<CloseEvent>((resolve) =>
      socket.onclose = resolve
    );
    const echoed = new Promise<string>((resolve) => {
      socket.onmessage = (event) => resolve(String(event.data));
    });
    await withDeadline(
      new Promise((resolve) => socket.onopen = resolve),
      EVENT_DEADLINE,
      "open",
    );
    socket.send("hello before the signal");
    assert.match(
      await withDeadline(echoed, EVENT_DEADLINE, "echo"),
      /hello before the signal/,
    );
    child.kill(signalName);
    const event = await withDeadline(closed, EVENT_DEADLINE, "the 1001");
    assert.equal(event.code, 1001);
    assert.equal(event.wasClean, true);
    const { code } = await withDeadline(status, EVENT_DEADLINE, "exit");
    // Drain stdout so the process's pipe is closed.
    while (!(await lines.read()).done);
    assert.equal(code, 0, `exit ${code}: ${await stderr}`);
  } finally {
    if (!exited) child.kill("SIGKILL");
    await status;
    await lines.cancel().catch(() => {});
    await stderr;
  }
}
