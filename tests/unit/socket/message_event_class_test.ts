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

  test("has the own properties and tag of the runtime's MessageEvent", () => {
    const event = createMessageEvent("hi", "");
    const native = new MessageEvent("message", { data: "hi", origin: "" });
    assert.deepEqual(
      Object.getOwnPropertyNames(event),
      Object.getOwnPropertyNames(native),
    );
    assert.equal(JSON.stringify(event), JSON.stringify(native));
    assert.equal(
      Object.prototype.toString.call(event),
      Object.prototype.toString.call(native),
    );
    assert.equal(event.target, null);
    assert.equal(event.currentTarget, null);
    assert.equal(event.eventPhase, Event.NONE);
    assert.deepEqual(event.composedPath(), []);
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
