// Deno only: hostile and broken input sent over raw TCP to this library's
// real server (serve + upgradeWebSocket), one server for the whole run. Each
// case checks what comes back on the wire (an HTTP status line, or the close
// frame and then the end of TCP) and what the server-side socket reported.
// At the end, in the same server, well-behaved clients are still served.
// Deno.test (not node:test) so the op and resource sanitizers check that
// nothing leaks; Bun's run excludes tests/*_deno_test.ts.
import assert from "node:assert/strict";
import { constants as zlibConstants, inflateRawSync } from "node:zlib";
import { Opcode } from "../../frame/types.ts";
import { EchoServerUnderAttack } from "../support/bad_input_server_deno.ts";
import {
  bytes,
  compressedFrame,
  deflateRaw,
  failingCompressedInput,
  failingInput,
  fragmentFlood,
} from "../support/hostile_frames_deno.ts";
import {
  clientFrame,
  closePayload,
  concat,
  encoder,
  RawWebSocket,
  upgradeHead,
} from "../support/raw_ws_client_deno.ts";
import {
  invalidTextInPieces,
  messageThenBreak,
} from "../support/strict_cases.ts";

/** Small, so the half-sent head cases are answered quickly. */
const HEADERS_TIMEOUT = 500;
/** The server sockets' maxMessageSize. */
const MAX_MESSAGE_SIZE = 64 * 1024;
/** The server sockets' closeTimeout: longer than any read deadline, so a
 * server that waits for it instead of closing TCP at once fails the test. */
const CLOSE_TIMEOUT = 60_000;
/** DEFAULTS.socket.maxFragments in protocol.ts, written out independently. */
const MAX_FRAGMENTS = 128 * 1024;

/** Host values a header line may carry but a URL authority may not. */
const ODD_HOSTS = ["a b", "[::1", "exa mple:80", "host:99999", "host:-1"];

/** Offers permessage-deflate in the upgrade request. */
const OFFER_DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate\r\n";

const FAILING_INPUT = failingInput(MAX_MESSAGE_SIZE);

/** A permessage-deflate payload inflated by zlib (node:zlib, as the ws
 * package does): append the 00 00 ff ff the sender stripped (RFC 7692
 * section 7.2.2) and flush; zlib stops at a final block if there is one. */
function inflateRaw(payload: Uint8Array): string {
  const inflated = inflateRawSync(
    concat(payload, bytes(0x00, 0x00, 0xff, 0xff)),
    { finishFlush: zlibConstants.Z_SYNC_FLUSH },
  );
  return new TextDecoder("utf-8", { fatal: true }).decode(inflated);
}
const FAILING_COMPRESSED_INPUT = await failingCompressedInput(MAX_MESSAGE_SIZE);

/** Sends `input` on a new connection and reads the answer; the server must
 * then close the connection. */
async function answerTo(port: number, input: Uint8Array) {
  const socket = await RawWebSocket.connect(port);
  try {
    await socket.send(input);
    const response = await socket.readResponse();
    await socket.expectEnd();
    return response;
  } finally {
    socket.close();
  }
}

Deno.test("serve: hostile input over raw TCP, then good clients in the same server", async (t) => {
  const target = new EchoServerUnderAttack({
    headersTimeout: HEADERS_TIMEOUT,
    maxMessageSize: MAX_MESSAGE_SIZE,
    closeTimeout: CLOSE_TIMEOUT,
    perMessageDeflate: true,
  });
  const port = target.port;
  try {
    await t.step(
      "a raw client's text and binary frames are echoed",
      async () => {
        const path = target.uniquePath("raw-echo");
        const socket = await RawWebSocket.open(port, path);
        try {
          await socket.send(clientFrame(Opcode.Text, "héllo"));
          const text = await socket.readFrame();
          assert.equal(text.opcode, Opcode.Text);
          assert.equal(new TextDecoder().decode(text.payload), "héllo");
          const atLimit = new Uint8Array(MAX_MESSAGE_SIZE).fill(7);
          await socket.send(clientFrame(Opcode.Binary, atLimit));
          const binary = await socket.readFrame();
          assert.equal(binary.opcode, Opcode.Binary);
          assert.deepEqual(
            binary.payload,
            atLimit,
            "maxMessageSize bytes pass",
          );
        } finally {
          socket.close();
        }
        assert.equal((await target.closeOf(path)).code, 1006);
      },
    );

    // ------------------------------------------------------ bad request heads
    await t.step("a half-sent head: 408 after headersTimeout", async () => {
      await target.expectRefusal("GET /slow HTTP/1.1\r\nHost: a\r\n", 408);
    });

    await t.step(
      "a head trickled a byte at a time: 408 all the same",
      async () => {
        // A timeout restarted by every byte would never fire.
        const head = "GET /trickle HTTP/1.1\r\nHost: a\r\nX-Slow: " +
          "a".repeat(4096);
        const socket = await RawWebSocket.connect(port);
        let sent = 0;
        const interval = setInterval(() => {
          if (sent < head.length) socket.send(head[sent++]).catch(() => {});
        }, HEADERS_TIMEOUT / 10);
        try {
          const response = await socket.readResponse();
          clearInterval(interval);
          assert.equal(response.status, 408);
          await socket.expectEnd();
        } finally {
          clearInterval(interval);
          socket.close();
        }
      },
    );

    await t.step("a head over 16 KiB: 431", async () => {
      await target.expectRefusal(
        "GET /big HTTP/1.1\r\nHost: a\r\nX-Big: " + "a".repeat(20 * 1024) +
          "\r\n\r\n",
        431,
      );
    });

    await t.step("a head with 101 header fields: 431", async () => {
      let head = "GET /many HTTP/1.1\r\nHost: a\r\n";
      for (let i = 0; i < 100; i++) head += `X-H${i}: v\r\n`;
      await target.expectRefusal(head + "\r\n", 431);
    });

    // None has a line end: a 408 would mean the server waited for the head
    // timeout instead of refusing at the first byte that is not HTTP.
    const notHttp: Array<[string, Uint8Array, number]> = [
      [
        "a TLS ClientHello",
        bytes(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00),
        400,
      ],
      ["binary garbage", bytes(0x00, 0xff, 0x7f, 0x80, 0x41, 0x42, 0x43), 400],
      ["an overlong method", encoder.encode("A".repeat(200)), 501],
    ];
    for (const [name, input, status] of notHttp) {
      await t.step(
        `${name}: ${status} at once, not 408 at the timeout`,
        async () => {
          const response = await answerTo(port, input);
          assert.equal(response.status, status, response.body);
        },
      );
    }

    await t.step("odd Host values: a 400 naming the Host header", async () => {
      for (const host of ODD_HOSTS) {
        const head = `GET /host HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
        const { status, body } = await answerTo(port, encoder.encode(head));
        assert.equal(status, 400, host);
        assert.ok(body.startsWith(`invalid Host header "${host}": `), body);
      }
    });

    await t.step(
      "a wrong or missing version: 426 with Sec-WebSocket-Version: 13",
      async () => {
        for (const version of ["8", "14", null]) {
          const headers = await target.expectRefusal(
            upgradeHead("/version", { version }),
            426,
          );
          assert.equal(headers.get("sec-websocket-version"), "13");
        }
      },
    );

    await t.step(
      "a missing key or one that is not 16 bytes of base64: 400",
      async () => {
        for (const key of [null, "c2hvcnQ=", "not base64 at all!!!!!=="]) {
          await target.expectRefusal(upgradeHead("/key", { key }), 400);
        }
      },
    );

    // --------------------------------------------------------- bad frames
    for (const [name, input, code] of FAILING_INPUT) {
      await t.step(`${name}: ${code}`, async () => {
        await target.expectFailure(name.replaceAll(" ", "-"), input, code);
      });
    }

    // ----------------------- strict: what came before a broken rule is served
    for (const broken of messageThenBreak("client")) {
      await t.step(
        `${broken.name}, in one write: the echo, then ${broken.code}`,
        async () => {
          await target.expectFailure(
            `strict-${broken.name.replaceAll(" ", "-")}`,
            broken.bytes,
            broken.code,
            "",
            broken.delivered,
          );
        },
      );
    }

    for (const [name, input, code] of FAILING_INPUT) {
      await t.step(
        `a message, then ${name}, in one write: the echo, then ${code}`,
        async () => {
          await target.expectFailure(
            `after-message-${name.replaceAll(" ", "-")}`,
            concat(clientFrame(Opcode.Text, "Hello"), input),
            code,
            "",
            ["Hello"],
          );
        },
      );
    }

    for (const piecewise of invalidTextInPieces("client")) {
      await t.step(
        `invalid UTF-8 inside a frame, ${piecewise.name}: 1007 before the rest is sent`,
        async () => {
          await target.expectFailureInPieces(
            `utf8-in-pieces-${piecewise.name.replaceAll(" ", "-")}`,
            piecewise.pieces.slice(0, piecewise.failsAt + 1),
            1007,
            { delivered: piecewise.delivered },
          );
        },
      );
    }

    // ------------------------------------------ permessage-deflate (RFC 7692)
    await t.step(
      "permessage-deflate is agreed; a compressed message is echoed compressed",
      async () => {
        const path = target.uniquePath("deflate-echo");
        const socket = await RawWebSocket.open(port, path, OFFER_DEFLATE);
        try {
          const agreed = socket.extensions?.split(";")[0].trim();
          assert.equal(agreed, "permessage-deflate", socket.extensions ?? "");
          const text = "hello, deflate ".repeat(200);
          await socket.send(
            compressedFrame(
              Opcode.Text,
              await deflateRaw(encoder.encode(text)),
            ),
          );
          const echoed = await socket.readFrame();
          assert.equal(echoed.opcode, Opcode.Text);
          assert.equal(
            echoed.rsv1,
            true,
            "3000 compressible bytes go compressed",
          );
          assert.equal(inflateRaw(echoed.payload), text);
        } finally {
          socket.close();
        }
      },
    );

    for (const [name, input, code] of FAILING_COMPRESSED_INPUT) {
      await t.step(`permessage-deflate agreed, ${name}: ${code}`, async () => {
        const id = `deflate-${name.replaceAll(" ", "-")}`;
        await target.expectFailure(id, input, code, OFFER_DEFLATE);
      });
    }

    await t.step("a message in 131,073 empty fragments: 1009", async () => {
      await target.expectFailure(
        "fragment-flood",
        fragmentFlood(MAX_FRAGMENTS),
        1009,
      );
    });

    await t.step(
      "invalid UTF-8 fails at its fragment, before the final one is sent",
      async () => {
        const path = target.uniquePath("utf8-fragment");
        const socket = await RawWebSocket.open(port, path);
        try {
          // "ab" and the first byte of "é", then a byte that cannot continue
          // it, in two writes. The final fragment is never sent.
          await socket.send(clientFrame(Opcode.Text, bytes(0x61, 0xc3), false));
          await socket.send(
            clientFrame(Opcode.Continuation, bytes(0x28, 0x63), false),
          );
          assert.equal((await socket.readClose()).code, 1007);
          await socket.expectEnd();
          const report = await target.closeOf(path);
          assert.equal(report.code, 1007);
          assert.equal(report.wasClean, false);
        } finally {
          socket.close();
        }
      },
    );

    await t.step(
      "valid UTF-8 split inside characters, a ping between fragments: echoed",
      async () => {
        const path = target.uniquePath("utf8-split-valid");
        const socket = await RawWebSocket.open(port, path);
        try {
          const text = "a€😀b";
          const encoded = encoder.encode(text); // 61 e2 82 ac f0 9f 98 80 62
          await socket.send(concat(
            clientFrame(Opcode.Text, encoded.subarray(0, 2), false),
            clientFrame(Opcode.Ping, "between"),
            clientFrame(Opcode.Continuation, encoded.subarray(2, 6), false),
            clientFrame(Opcode.Continuation, encoded.subarray(6)),
          ));
          const pong = await socket.readFrame();
          assert.equal(pong.opcode, Opcode.Pong);
          assert.equal(new TextDecoder().decode(pong.payload), "between");
          const echoed = await socket.readFrame();
          assert.equal(echoed.opcode, Opcode.Text);
          assert.equal(new TextDecoder().decode(echoed.payload), text);
        } finally {
          socket.close();
        }
      },
    );

    await t.step(
      "a bad frame in the same write as the head: 101, then 1002",
      async () => {
        const path = target.uniquePath("early-bad-frame");
        const socket = await RawWebSocket.connect(port);
        try {
          await socket.send(
            concat(encoder.encode(upgradeHead(path)), clientFrame(0x3, "x")),
          );
          assert.equal((await socket.readHead()).status, 101);
          assert.equal((await socket.readClose()).code, 1002);
          await socket.expectEnd();
          const report = await target.closeOf(path);
          assert.equal(report.code, 1002);
          assert.equal(report.wasClean, false);
        } finally {
          socket.close();
        }
      },
    );

    // ----------------------------------------------------- peers that leave
    await t.step(
      "a clean close: the server echoes the code, then closes TCP",
      async () => {
        const path = target.uniquePath("clean-close");
        const socket = await RawWebSocket.open(port, path);
        try {
          await socket.send(
            clientFrame(Opcode.Close, closePayload(4001, "done")),
          );
          assert.equal((await socket.readClose()).code, 4001);
          await socket.expectEnd();
          assert.deepEqual(await target.closeOf(path), {
            code: 4001,
            reason: "done",
            wasClean: true,
          });
        } finally {
          socket.close();
        }
      },
    );

    await t.step(
      "a peer that sends close and vanishes: its code is reported",
      async () => {
        const path = target.uniquePath("close-and-vanish");
        const socket = await RawWebSocket.open(port, path);
        try {
          await socket.send(
            clientFrame(Opcode.Close, closePayload(4002, "gone")),
          );
        } finally {
          socket.close();
        }
        // close_handshake.ts: the peer's close frame arrived, so the
        // handshake counts as complete even if our echo could not be sent.
        assert.deepEqual(await target.closeOf(path), {
          code: 4002,
          reason: "gone",
          wasClean: true,
        });
      },
    );

    await t.step(
      "a peer that vanishes mid-frame: 1006, wasClean false",
      async () => {
        const path = target.uniquePath("vanish-mid-frame");
        const socket = await RawWebSocket.open(port, path);
        try {
          // A ping and the first half of a text frame in one write: the pong
          // shows the server has read that far.
          const half = clientFrame(Opcode.Text, "x".repeat(100)).subarray(
            0,
            50,
          );
          await socket.send(concat(clientFrame(Opcode.Ping, "p"), half));
          assert.equal((await socket.readFrame()).opcode, Opcode.Pong);
        } finally {
          socket.close();
        }
        assert.deepEqual(await target.closeOf(path), {
          code: 1006,
          reason: "",
          wasClean: false,
        });
        assert.equal(target.side(path).errorEvents, 1);
      },
    );

    // ------------------------------------------- everyone else still served
    await t.step("bad connections alongside good clients", async () => {
      await Promise.all([
        target.goodClient("good-during-1"),
        target.expectFailure("during-1", clientFrame(0x7, "x"), 1002),
        target.expectFailure(
          "during-2",
          clientFrame(Opcode.Text, bytes(0xed, 0xa0, 0x80)),
          1007,
        ),
        target.expectRefusal(upgradeHead("/during-3", { key: null }), 400),
        target.expectRefusal("GET /during-4 HTTP/1.1\r\n", 408),
        target.goodClient("good-during-2"),
      ]);
    });

    await t.step(
      "after all of it, Deno's WebSocket still connects and echoes",
      async () => {
        await target.goodClient("good-after");
      },
    );

    await t.step("every server-side socket reported its close", async () => {
      assert.ok((await target.allClosed()) > FAILING_INPUT.length);
    });
  } finally {
    await target.shutdown();
  }
});

// Regression (was a known bug): the server answered every ping with a pong
// whatever was still waiting to be written, and kept reading while pongs
// piled up, so a client that pings and never reads made the server buffer
// without bound. Now a server socket stops reading above its write
// high-water mark, and pongs count against maxQueuedBytes (1008).
Deno.test({
  name:
    "serve: a client that pings and never reads cannot grow the server's buffer past maxQueuedBytes",
  async fn() {
    const maxQueuedBytes = 1024 * 1024;
    const target = new EchoServerUnderAttack({
      headersTimeout: HEADERS_TIMEOUT,
      maxQueuedBytes,
    });
    try {
      const flood = await target.pingWithoutReading(16 * 1024 * 1024);
      const bounded = flood.peakBuffered <= maxQueuedBytes + 64 * 1024;
      const failed = flood.closed?.code === 1008;
      assert.ok(
        bounded && (flood.pushedBack || failed || flood.sent < 16 << 20),
        `pings without reading: ${JSON.stringify(flood)}`,
      );
    } finally {
      await target.shutdown();
    }
  },
});

// Regression (was a known bug, fixed by 70d0c5a): when a message and the
// close frame arrive in one read, the protocol queued the close echo before
// the "message" event was dispatched, so send() in the handler threw
// InvalidStateError while readyState still said OPEN. Uncaught (the
// README's echo handler), it ended the server process; the npm ws and Bun
// clients do this with `ws.send(x); ws.close()`. The handler here catches
// it, and the test checks nothing was thrown. Since the socket handles each
// event before the protocol reads the next frame, the echo (10 bytes, under
// the compression threshold, so framed at once) goes out before the close.
Deno.test({
  name:
    "serve: a message and the close frame in one write: send() in onmessage does not throw",
  async fn() {
    const target = new EchoServerUnderAttack({
      headersTimeout: HEADERS_TIMEOUT,
      perMessageDeflate: true,
    });
    const compressed = compressedFrame(
      Opcode.Text,
      await deflateRaw(encoder.encode("last words")),
    );
    const cases: Array<[string, Uint8Array, string]> = [
      ["plain", clientFrame(Opcode.Text, "last words"), ""],
      ["compressed", compressed, OFFER_DEFLATE],
    ];
    try {
      const outcomes = [];
      for (const [name, message, extra] of cases) {
        const path = target.uniquePath(`message-and-close-${name}`);
        const socket = await RawWebSocket.open(target.port, path, extra);
        try {
          await socket.send(
            concat(message, clientFrame(Opcode.Close, closePayload(1000))),
          );
          const echo = await socket.readFrame();
          assert.equal(echo.opcode, Opcode.Text, name);
          assert.equal(new TextDecoder().decode(echo.payload), "last words");
          const frame = await socket.readFrame();
          assert.equal(frame.opcode, Opcode.Close, name);
          await socket.expectEnd();
        } finally {
          socket.close();
        }
        outcomes.push({
          name,
          report: await target.closeOf(path),
          sendErrors: target.side(path).sendErrors.map(String),
        });
      }
      assert.deepEqual(
        outcomes,
        cases.map(([name]) => ({
          name,
          report: { code: 1000, reason: "", wasClean: true },
          sendErrors: [],
        })),
      );
    } finally {
      await target.shutdown();
    }
  },
});
