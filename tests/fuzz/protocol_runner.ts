/**
 * Drives a `Protocol` with a byte stream cut into pieces and checks the
 * invariants every input must keep, valid or not: `receive()` never throws,
 * a failure closes with a code RFC 6455 allows for it and queues a close
 * frame with the same code, nothing is reported after an error or a close,
 * no message is larger than the limit, and the frames it sends back are
 * valid frames for the peer.
 *
 * @module
 */
import assert from "node:assert/strict";
import { WebSocketError } from "../../errors.ts";
import type { Frame } from "../../frame/types.ts";
import { FrameDecoder } from "../../frame/decoder.ts";
import { Protocol } from "../../protocol/protocol.ts";
import { type ProtocolEvent, ReadyState } from "../../protocol/types.ts";
import { isValidUtf8 } from "../../frame/utf8.ts";
import { concat } from "./bytes.ts";
import { type PlainEvent, plainEvent } from "./protocol_model.ts";
import { type FuzzConfig, limitsOf, protocolOptions } from "./ws_streams.ts";

/** Close codes RFC 6455 section 7.4.1 gives for failing a connection on bad
 * input: protocol error, invalid data, policy violation, too big. */
export const FAILURE_CODES: ReadonlySet<number> = new Set([
  1002,
  1007,
  1008,
  1009,
]);

const textEncoder = new TextEncoder();

/** What one run produced. */
export interface ProtocolRun {
  /** Every event, in order. */
  events: ProtocolEvent[];
  /** The frames the protocol queued for the peer, decoded. */
  outgoing: Frame[];
}

/** Decodes what the protocol sends: a client masks, a server does not. */
function decodeOutgoing(config: FuzzConfig, chunks: Uint8Array[]): Frame[] {
  const decoder = new FrameDecoder({ expectMasked: config.role === "client" });
  decoder.push(concat(chunks));
  const frames: Frame[] = [];
  for (let frame = decoder.next(); frame; frame = decoder.next()) {
    frames.push({ ...frame, payload: frame.payload.slice() });
  }
  assert.equal(decoder.bufferedBytes, 0, "a partial frame was queued");
  return frames;
}

/**
 * Feeds `pieces` to a fresh `Protocol` and checks the invariants.
 *
 * @param config the receiver
 * @param pieces the stream, cut; the protocol takes ownership of them
 * @param reuseChunks overwrite each piece once `receive()` returned, as a
 * transport reading into one reused buffer does (the socket does): events
 * must not change
 * @returns the events and the decoded outgoing frames
 */
export function runProtocol(
  config: FuzzConfig,
  pieces: readonly Uint8Array[],
  reuseChunks = false,
): ProtocolRun {
  const protocol = new Protocol(protocolOptions(config));
  const limits = limitsOf(config);
  const events: ProtocolEvent[] = [];
  let ended = false;
  for (const piece of pieces) {
    const received = protocol.receive(piece);
    if (reuseChunks) {
      // Binary data may be a view into the chunk, so a transport that reuses
      // its read buffer copies it first; every other event owns its bytes.
      for (const event of received) {
        if (event.type === "binary") event.data = event.data.slice();
      }
      piece.fill(0xee);
    }
    if (ended) {
      assert.deepEqual(received, [], "an event after an error or a close");
    }
    for (const event of received) {
      assert.equal(ended, false, "an event after an error or a close");
      events.push(event);
      checkEvent(event, limits.message);
      if (event.type === "error" || event.type === "close") ended = true;
    }
  }
  // Bytes after the end are ignored.
  if (ended) {
    assert.deepEqual(protocol.receive(new Uint8Array([0x81, 0x00])), []);
  }
  const last = events.at(-1);
  const outgoing = decodeOutgoing(config, protocol.takeOutgoing());
  checkOutgoing(events, outgoing);
  if (last?.type === "error" || last?.type === "close") {
    assert.equal(protocol.readyState, ReadyState.CLOSED);
  } else {
    assert.equal(protocol.readyState, ReadyState.OPEN);
  }
  return { events, outgoing };
}

function checkEvent(event: ProtocolEvent, maxMessageSize: number): void {
  switch (event.type) {
    case "text":
      assert.ok(
        textEncoder.encode(event.data).length <= maxMessageSize,
        "text message over the limit",
      );
      break;
    case "binary":
      assert.ok(event.data.length <= maxMessageSize, "message over the limit");
      break;
    case "ping":
    case "pong":
      assert.ok(event.data.length <= 125, "control payload over 125 bytes");
      break;
    case "close":
      assert.ok(
        event.code === 1005 ||
          (event.code >= 1000 && event.code <= 1003) ||
          (event.code >= 1007 && event.code <= 1014) ||
          (event.code >= 3000 && event.code <= 4999),
        `close code ${event.code} reported`,
      );
      break;
    case "error":
      assert.ok(event.error instanceof WebSocketError, "untyped error");
      assert.ok(
        FAILURE_CODES.has(event.error.closeCode),
        `failed with close code ${event.error.closeCode}`,
      );
      break;
  }
}

/** The close code in a close frame's payload, 1005 when it has none. */
function closeCodeOf(payload: Uint8Array): number {
  return payload.length === 0 ? 1005 : (payload[0] << 8) | payload[1];
}

/** Pongs answer pings in order; one close frame, last, with the code of the
 * error or echoing the peer's close; nothing else. */
function checkOutgoing(events: ProtocolEvent[], outgoing: Frame[]): void {
  const pings = events.filter((event) => event.type === "ping");
  const pongs = outgoing.filter((frame) => frame.opcode === 0xa);
  assert.deepEqual(
    pongs.map((frame) => frame.payload),
    pings.map((event) => event.data),
    "pongs do not answer the pings",
  );
  const closes = outgoing.filter((frame) => frame.opcode === 0x8);
  for (const frame of outgoing) {
    assert.ok(frame.fin && !frame.rsv1, "an odd frame was sent");
    assert.ok(frame.opcode === 0xa || frame.opcode === 0x8, "unexpected frame");
  }
  const last = events.at(-1);
  if (last?.type !== "error" && last?.type !== "close") {
    assert.equal(closes.length, 0, "a close frame without a reason");
    return;
  }
  assert.equal(closes.length, 1, "not exactly one close frame");
  assert.equal(outgoing.at(-1)?.opcode, 0x8, "a frame after the close frame");
  const payload = closes[0].payload;
  assert.notEqual(payload.length, 1, "a one-byte close payload");
  assert.ok(payload.length <= 125);
  assert.ok(isValidUtf8(payload.subarray(2)), "close reason is not UTF-8");
  const sent = closeCodeOf(payload);
  if (last.type === "error") {
    assert.equal(sent, last.error.closeCode, "close frame code != error code");
  } else {
    assert.equal(sent, last.code, "close echo code != peer's code");
  }
}

/** The run's events as comparable data. */
export function plainEvents(
  run: ProtocolRun,
  detailed: boolean,
): PlainEvent[] {
  return run.events.map((event) => plainEvent(event, detailed));
}
