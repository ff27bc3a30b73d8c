/**
 * Helpers for the Protocol state machine tests (tests/protocol_*_test.ts):
 * feed bytes to a server-role Protocol (whole and byte by byte, which must
 * agree), decode what it queued for sending, and check that it failed the
 * connection with the expected rule and close code.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Protocol } from "../../protocol/protocol.ts";
import {
  type ProtocolEvent,
  type ProtocolOptions,
  ReadyState,
} from "../../protocol/types.ts";
import { FrameDecoder } from "../../frame/decoder.ts";
import { Opcode } from "../../frame/types.ts";

/** A frame the protocol queued for sending, decoded. */
export interface SentFrame {
  opcode: number;
  payload: Uint8Array;
}

/** What a server-role protocol did with some input. */
export interface ServerOutcome {
  events: ProtocolEvent[];
  protocol: Protocol;
  sent: SentFrame[];
}

/** Feeds `bytes` to a fresh server protocol, whole and byte by byte. */
export function serverReceives(
  bytes: Uint8Array,
  options: Omit<ProtocolOptions, "role"> = {},
): ServerOutcome {
  let result: ServerOutcome | undefined;
  for (const pieceSize of [bytes.length || 1, 1]) {
    const protocol = new Protocol({ role: "server", ...options });
    const events: ProtocolEvent[] = [];
    for (let start = 0; start < bytes.length; start += pieceSize) {
      events.push(...protocol.receive(bytes.slice(start, start + pieceSize)));
    }
    const sent = decodeSent(protocol, false);
    const current = { events, protocol, sent };
    if (result) {
      assert.deepEqual(
        summarize(current.events),
        summarize(result.events),
        "splitting the input changed the outcome",
      );
    }
    result = current;
  }
  return result!;
}

function summarize(events: ProtocolEvent[]): unknown[] {
  return events.map((event) =>
    event.type === "error"
      ? { type: "error", rule: event.error.rule, code: event.error.closeCode }
      : event
  );
}

/** Decodes what the protocol queued for sending. */
export function decodeSent(
  protocol: Protocol,
  masked: boolean,
): SentFrame[] {
  const decoder = new FrameDecoder({ expectMasked: masked });
  const frames = [];
  for (const bytes of protocol.takeOutgoing()) {
    decoder.push(bytes);
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      frames.push({ opcode: frame.opcode, payload: frame.payload.slice() });
    }
  }
  return frames;
}

/** The close code at the start of a close frame's payload. */
export function closeCodeOf(payload: Uint8Array): number {
  return (payload[0] << 8) | payload[1];
}

/**
 * The last event is an error with `rule` and `code`, the protocol is
 * CLOSED, and the last frame it queued is a close with `code`.
 */
export function assertFailed(
  result: ServerOutcome,
  rule: string,
  code: number,
): void {
  const last = result.events.at(-1);
  assert.ok(last && last.type === "error", "expected an error event last");
  assert.equal(last.error.rule, rule);
  assert.equal(last.error.closeCode, code);
  assert.equal(result.protocol.readyState, ReadyState.CLOSED);
  const close = result.sent.at(-1);
  assert.ok(close && close.opcode === Opcode.Close, "a close frame was queued");
  assert.equal(closeCodeOf(close.payload), code);
}
