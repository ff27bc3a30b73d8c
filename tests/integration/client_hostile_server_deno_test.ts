// Deno only: connect() against a hostile server (tests/support/
// hostile_server_deno.ts), which completes the handshake over raw TCP and
// then breaks the RFC's rules from the server side: every rule the server
// tests check, mirrored (masked frames from a server, oversize and
// fragmented control frames, bad close codes, invalid UTF-8 in every
// position, compressed frames without agreement, sizes past the limits),
// then the permessage-deflate rules once it was agreed, and the strict
// cases: a valid message before a broken rule is echoed before the close,
// and invalid UTF-8 inside a frame fails when it arrives. Each case checks
// the close code connect() sends, that it then ends TCP, and the events
// its socket dispatches.
import { perMessageDeflate } from "../../deflate.ts";
import assert from "node:assert/strict";
import { Opcode } from "../../frame/types.ts";
import {
  failingCompressedInput,
  failingInput,
  fragmentFlood,
  frameFrom,
} from "../support/hostile_frames_deno.ts";
import {
  AGREE_DEFLATE,
  expectClientFailure,
  withHostileServer,
} from "../support/hostile_server_deno.ts";
import {
  invalidTextInPieces,
  messageThenBreak,
} from "../support/strict_cases.ts";
import { concat } from "../support/bytes.ts";
import { closePayload } from "../support/raw_ws_client_deno.ts";
import { withDeadline } from "../interop/peers/bounded.ts";

/** connect()'s maxMessageSize in these tests. */
const MAX_MESSAGE_SIZE = 64 * 1024;
/** DEFAULTS.socket.maxFragments, written out independently. */
const MAX_FRAGMENTS = 128 * 1024;

const hello = frameFrom("server", Opcode.Text, "Hello");

Deno.test("connect() against a hostile server", async (t) => {
  const options = { maxMessageSize: MAX_MESSAGE_SIZE };

  await t.step("a well-behaved frame is echoed, masked", async () => {
    await withHostileServer("", options, async ({ peer, log }) => {
      await peer.write(hello);
      const echo = await peer.readFrame();
      assert.equal(echo.opcode, Opcode.Text);
      assert.equal(echo.masked, true);
      assert.equal(new TextDecoder().decode(echo.payload), "Hello");
      assert.deepEqual(log, ["message:Hello"]);
    });
  });

  await t.step(
    "a message and the close frame in one write: the echo, then the close echo",
    async () => {
      await withHostileServer("", options, async ({ peer, log, closed }) => {
        const close = frameFrom("server", Opcode.Close, closePayload(4001));
        await peer.write(concat(hello, close));
        const echo = await peer.readFrame();
        assert.equal(echo.opcode, Opcode.Text);
        assert.equal(new TextDecoder().decode(echo.payload), "Hello");
        const closeEcho = await peer.readFrame();
        assert.equal(closeEcho.opcode, Opcode.Close);
        assert.deepEqual([...closeEcho.payload], [0x0f, 0xa1]);
        peer.close(); // the server ends TCP; the client waited for it
        await withDeadline(closed, 10_000, "the close event");
        assert.deepEqual(log, ["message:Hello", "close:4001::clean"]);
      });
    },
  );

  for (const [name, input, code] of failingInput(MAX_MESSAGE_SIZE, "server")) {
    await t.step(`${name}: ${code}`, async () => {
      await expectClientFailure(name, { pieces: [input], code, options });
    });
  }

  await t.step("a message in 131,073 empty fragments: 1009", async () => {
    await expectClientFailure("fragment flood", {
      pieces: [fragmentFlood(MAX_FRAGMENTS, "server")],
      code: 1009,
      options,
    });
  });

  const compressedInput = await failingCompressedInput(
    MAX_MESSAGE_SIZE,
    "server",
  );
  for (const [name, input, code] of compressedInput) {
    await t.step(`permessage-deflate agreed, ${name}: ${code}`, async () => {
      await expectClientFailure(name, {
        pieces: [input],
        code,
        extraHeaders: AGREE_DEFLATE,
        options: { ...options, perMessageDeflate: perMessageDeflate() },
      });
    });
  }

  // ------------------------- strict: what came before a broken rule is served
  for (const broken of messageThenBreak("server")) {
    await t.step(
      `${broken.name}, in one write: the echo, then ${broken.code}`,
      async () => {
        await expectClientFailure(broken.name, {
          pieces: [broken.bytes],
          code: broken.code,
          delivered: broken.delivered,
          options,
        });
      },
    );
  }

  for (const [name, input, code] of failingInput(MAX_MESSAGE_SIZE, "server")) {
    await t.step(
      `a message, then ${name}, in one write: the echo, then ${code}`,
      async () => {
        await expectClientFailure(name, {
          pieces: [concat(hello, input)],
          code,
          delivered: ["Hello"],
          options,
        });
      },
    );
  }

  for (const piecewise of invalidTextInPieces("server")) {
    await t.step(
      `invalid UTF-8 inside a frame, ${piecewise.name}: 1007 before the rest is sent`,
      async () => {
        await expectClientFailure(piecewise.name, {
          pieces: piecewise.pieces.slice(0, piecewise.failsAt + 1),
          code: 1007,
          delivered: piecewise.delivered,
          options,
        });
      },
    );
  }
});
