/**
 * `createMessageEvent`: in every runtime a real `MessageEvent` with the data
 * and origin given and the standard's defaults for the rest, whether the
 * runtime's class or the cheaper subclass.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createMessageEvent } from "../../../socket/events.ts";

describe("createMessageEvent", () => {
  test("is a MessageEvent carrying the data and origin", () => {
    const data = new ArrayBuffer(3);
    const event = createMessageEvent(data, "ws://127.0.0.1:8080");
    assert.ok(event instanceof MessageEvent);
    assert.ok(event instanceof Event);
    assert.equal(event.type, "message");
    assert.equal(event.data, data);
    assert.equal(event.origin, "ws://127.0.0.1:8080");
    assert.equal(event.lastEventId, "");
    assert.equal(event.source, null);
    assert.deepEqual([...event.ports], []);
  });

  test("reaches listeners through dispatchEvent unchanged", () => {
    const target = new EventTarget();
    const seen: unknown[] = [];
    target.addEventListener("message", (event) => {
      seen.push((event as MessageEvent).data, (event as MessageEvent).origin);
    });
    target.dispatchEvent(createMessageEvent("hi", ""));
    assert.deepEqual(seen, ["hi", ""]);
  });
});
