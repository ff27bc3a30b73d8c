// The socket over an in-memory connection, as server and as client, with
// the cases of tests/support/strict_cases.ts: what the application sends in
// reply to a message goes out before the close frame of a failure that a
// later frame of the same read caused, and invalid UTF-8 inside a frame
// fails the connection when it arrives, before the frame is complete.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../../../frame/types.ts";
import { closeCodeOf, decoder, openSocket } from "../../support/websocket.ts";
import {
  invalidTextInPieces,
  messageThenBreak,
  type Sender,
} from "../../support/strict_cases.ts";

/** An echoing socket of `role` over a fake connection. */
function echoSocket(role: "server" | "client") {
  const opened = openSocket({}, role);
  const { socket, log } = opened;
  socket.addEventListener("message", (event) => {
    try {
      socket.send(event.data);
    } catch (error) {
      log.push(`send threw ${error}`);
    }
  });
  return opened;
}

/** The frames the socket wrote: text as itself, a close as its code. */
function written(conn: ReturnType<typeof openSocket>["conn"], role: string) {
  return conn.frames(role as "server" | "client").map((frame) =>
    frame.opcode === Opcode.Close
      ? `close ${closeCodeOf(frame)}`
      : `${frame.opcode === Opcode.Text ? "text" : frame.opcode} ${
        decoder.decode(frame.payload)
      }`
  );
}

for (const role of ["server", "client"] as const) {
  const sender: Sender = role === "server" ? "client" : "server";

  describe(`socket (${role}): a valid message, then a broken rule, in one read`, () => {
    for (const broken of messageThenBreak(sender)) {
      test(`${broken.name}: message event, echo, close ${broken.code}`, async () => {
        const { socket, conn, log, done } = echoSocket(role);
        conn.push(broken.bytes);
        await done;
        assert.deepEqual(log.slice(0, -1), [
          "open",
          ...broken.delivered.map((text) => `message:${text}`),
          "error",
        ]);
        assert.match(
          log.at(-1)!,
          new RegExp(`^close:${broken.code}:.*:unclean$`),
        );
        // The echo went out, then the close frame; no pong for the ping.
        assert.deepEqual(written(conn, role), [
          ...broken.delivered.map((text) => `text ${text}`),
          `close ${broken.code}`,
        ]);
        assert.equal(socket.readyState, socket.CLOSED);
      });
    }
  });

  describe(`socket (${role}): invalid UTF-8 inside a frame in pieces`, () => {
    for (const piecewise of invalidTextInPieces(sender)) {
      test(`${piecewise.name}: 1007 before the rest arrives`, async () => {
        const { conn, log, done } = echoSocket(role);
        // The pieces up to the bad byte, one read each, then the end of
        // the stream: a socket that waited for the whole frame would see
        // the end first and close with 1006.
        for (const piece of piecewise.pieces.slice(0, piecewise.failsAt + 1)) {
          conn.push(piece);
        }
        conn.end();
        await done;
        assert.deepEqual(log.slice(0, -1), [
          "open",
          ...piecewise.delivered.map((text) => `message:${text}`),
          "error",
        ]);
        assert.match(log.at(-1)!, /^close:1007:.*:unclean$/);
        assert.deepEqual(written(conn, role), [
          ...piecewise.delivered.map((text) => `text ${text}`),
          "close 1007",
        ]);
      });
    }
  });
}
