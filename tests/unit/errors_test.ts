/**
 * The errors the socket throws are the classes the entries export, and the
 * DOM's kind where the browser's `WebSocket` throws a `DOMException`.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FragmentSequenceError, InvalidStateError } from "../../errors.ts";
import { createPendingSocket } from "../../socket.ts";

describe("InvalidStateError", () => {
  test("send() before open throws the exported class, a DOMException named InvalidStateError", () => {
    const socket = createPendingSocket("server");
    assert.throws(() => socket.send("too early"), (error: unknown) => {
      assert.ok(error instanceof InvalidStateError, String(error));
      assert.ok(error instanceof DOMException);
      assert.ok(error instanceof Error);
      assert.equal(error.name, "InvalidStateError");
      assert.equal(error.code, DOMException.INVALID_STATE_ERR);
      assert.match(error.message, /not open/);
      return true;
    });
  });

  test("FragmentSequenceError is an InvalidStateError with a name and rule of its own", () => {
    const error = new FragmentSequenceError(
      "ExpectedContinuation",
      "a fragmented message is open",
    );
    assert.ok(error instanceof InvalidStateError);
    assert.ok(error instanceof DOMException);
    assert.equal(error.name, "FragmentSequenceError");
    assert.equal(error.rule, "ExpectedContinuation");
    assert.equal(error.message, "a fragmented message is open");
  });
});
