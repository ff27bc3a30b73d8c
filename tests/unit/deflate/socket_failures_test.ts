// permessage-deflate (RFC 7692) in the socket, failing: zip bombs, invalid
// DEFLATE data, invalid UTF-8 inside compressed text, RSV1 where it is not
// allowed, and a bad threshold.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  attachConnection,
  createPendingSocket,
} from "../../../socket/websocket.ts";
import { Opcode } from "../../../frame/types.ts";
import { deflateMessage } from "../../../deflate/payload.ts";
import {
  closeCodeOf,
  closeFrame,
  decoder,
  FakeConn,
  openSocket,
  text,
} from "../../support/websocket.ts";
import {
  AGREED,
  bytesOf,
  chatLog,
  closeFrameOf,
  compressedFrame,
  NO_CONTEXT_TAKEOVER,
  openDeflateSocket,
  syncFlushedStoredBlock,
} from "../../support/deflate_socket.ts";

describe("permessage-deflate: failures", () => {
  test("a zip bomb fails the connection with 1009 without inflating it all", async () => {
    const { conn, log, done } = openDeflateSocket(0, {
      maxMessageSize: 1000,
    });
    const bomb = await deflateMessage(new Uint8Array(500_000));
    assert.ok(bomb.length < 1000, "the compressed bomb fits the limit");
    conn.push(compressedFrame(Opcode.Binary, bomb));
    await done;
    assert.equal(closeCodeOf(closeFrameOf(conn)), 1009);
    assert.deepEqual(log.entries, ["open", "error", "close:1009:unclean"]);
  });

  test("invalid DEFLATE data fails the connection with 1007", async () => {
    const { conn, log, done } = openDeflateSocket();
    // BTYPE 11 is reserved: no valid DEFLATE stream starts like this.
    conn.push(compressedFrame(Opcode.Text, new Uint8Array([0xff, 0xff, 0xff])));
    conn.push(text("never delivered"));
    await done;
    assert.equal(closeCodeOf(closeFrameOf(conn)), 1007);
    assert.deepEqual(log.entries, ["open", "error", "close:1007:unclean"]);
  });

  test("invalid UTF-8 inside compressed text fails the connection with 1007", async () => {
    const { conn, log, done } = openDeflateSocket();
    const invalid = new Uint8Array([0x48, 0x69, 0xc3, 0x28]); // "Hi" + bad pair
    conn.push(compressedFrame(Opcode.Text, syncFlushedStoredBlock(invalid)));
    await done;
    const close = closeFrameOf(conn);
    assert.equal(closeCodeOf(close), 1007);
    assert.match(decoder.decode(close.payload.subarray(2)), /UTF-8/);
    assert.deepEqual(log.entries, ["open", "error", "close:1007:unclean"]);
  });

  test("the same invalid UTF-8 in compressed binary is fine", async () => {
    const { conn, log, done } = openDeflateSocket();
    const bytes = new Uint8Array([0x48, 0x69, 0xc3, 0x28]);
    conn.push(compressedFrame(Opcode.Binary, syncFlushedStoredBlock(bytes)));
    conn.push(closeFrame(1000));
    await done;
    assert.deepEqual(log.entries, ["open", "binary:4", "close:1000:clean"]);
  });

  test("RSV1 without permessage-deflate agreed fails with 1002", async () => {
    const { conn, log, done } = openSocket();
    conn.push(
      compressedFrame(Opcode.Text, await deflateMessage(bytesOf("hello"))),
    );
    await done;
    assert.equal(closeCodeOf(closeFrameOf(conn)), 1002);
    assert.deepEqual(log.slice(0, 2), ["open", "error"]);
    assert.match(log[2], /^close:1002:.*:unclean$/);
  });

  test("RSV1 on a continuation or control frame fails with 1002", async () => {
    for (
      const [opcode, first] of [[Opcode.Continuation, true], [
        Opcode.Ping,
        false,
      ]] as const
    ) {
      const { conn, log, done } = openDeflateSocket();
      if (first) {
        conn.push(compressedFrame(Opcode.Text, new Uint8Array([0]), {
          fin: false,
        }));
      }
      conn.push(compressedFrame(opcode, new Uint8Array(0)));
      await done;
      assert.equal(closeCodeOf(closeFrameOf(conn)), 1002, String(opcode));
      assert.deepEqual(log.entries, ["open", "error", "close:1002:unclean"]);
    }
  });

  test("extensions stays empty and nothing is compressed when not agreed", async () => {
    const { socket, conn, done } = openSocket();
    assert.equal(socket.extensions, "");
    socket.send(chatLog(10_000));
    await conn.until(() => conn.frames().length === 1);
    assert.equal(conn.frames()[0].rsv1, false);
    conn.push(closeFrame(1000));
    await done;
  });

  test("an invalid threshold is a RangeError at attach", () => {
    const socket = createPendingSocket("server", { pingInterval: 0 });
    const conn = new FakeConn();
    assert.throws(
      () =>
        attachConnection(socket, conn, new Uint8Array(0), {
          protocol: "",
          extensions: AGREED,
          perMessageDeflate: { params: NO_CONTEXT_TAKEOVER, threshold: -1 },
        }),
      RangeError,
    );
    assert.equal(socket.readyState, socket.CONNECTING);
    assert.equal(conn.closed, false);
  });
});
