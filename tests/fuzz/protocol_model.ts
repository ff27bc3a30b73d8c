/**
 * The model of a correct receiver: what RFC 6455 and the configured limits
 * say `Protocol` reports for a valid stream, and events reduced to plain
 * data for comparison. The model is independent of the implementation: it
 * knows only the documented meaning of each limit, and inflates compressed
 * messages with zlib.
 *
 * @module
 */
import { constants, inflateRawSync } from "node:zlib";
import type { ProtocolEvent } from "../../protocol/types.ts";
import { concat } from "./bytes.ts";
import { type FrameSpec, type FuzzConfig, limitsOf } from "./ws_streams.ts";

/** A byte order mark is text like any other character: kept, not stripped
 * (the platform decoder's default would strip a leading one). */
const textDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** An event reduced to comparable plain data. */
export type PlainEvent =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping" | "pong"; data: Uint8Array }
  | { type: "close"; code: number; reason: string }
  | { type: "error"; closeCode: number; rule?: string; message?: string };

/** An event as plain data; errors keep their rule and message only when
 * `detailed` (the model predicts just the close code). */
export function plainEvent(
  event: ProtocolEvent,
  detailed: boolean,
): PlainEvent {
  switch (event.type) {
    case "binary":
    case "ping":
    case "pong":
      return { type: event.type, data: event.data.slice() };
    case "error":
      return detailed
        ? {
          type: "error",
          closeCode: event.error.closeCode,
          rule: event.error.rule,
          message: event.error.message,
        }
        : { type: "error", closeCode: event.error.closeCode };
    default:
      return event;
  }
}

/** What a correct receiver does with a valid stream. */
export interface ExpectedOutcome {
  /** The events, in order (errors as close code only). */
  events: PlainEvent[];
  /** The payloads of the pongs it sends back, in order. */
  pongs: Uint8Array[];
  /** The close frame it sends: the code (1005 for an empty echo), or null. */
  closeCode: number | null;
}

/**
 * The model: what RFC 6455 and the configured limits say a receiver reports
 * for `frames`. A data frame longer than the frame limit or than what the
 * message limit still allows, or a message in more frames than allowed,
 * fails the connection with 1009 before the frame is delivered (a message
 * sent in a single unfragmented frame is one frame). A compressed message
 * that inflates to more than the message limit fails with 1009 too.
 */
export function expectedOutcome(
  frames: readonly FrameSpec[],
  config: FuzzConfig,
): ExpectedOutcome {
  const limits = limitsOf(config);
  const events: PlainEvent[] = [];
  const pongs: Uint8Array[] = [];
  let message: FrameSpec[] | null = null;
  let messageLength = 0;
  for (const frame of frames) {
    if (frame.opcode === 0x8) {
      const payload = frame.payload;
      const code = payload.length === 0 ? 1005 : (payload[0] << 8) | payload[1];
      const reason = textDecoder.decode(payload.subarray(2));
      events.push({ type: "close", code, reason });
      return { events, pongs, closeCode: code };
    }
    if (frame.opcode === 0x9 || frame.opcode === 0xa) {
      events.push({
        type: frame.opcode === 0x9 ? "ping" : "pong",
        data: frame.payload,
      });
      if (frame.opcode === 0x9) pongs.push(frame.payload);
      continue;
    }
    const allowed = Math.min(limits.frame, limits.message - messageLength);
    const single = message === null && frame.fin && !frame.rsv1;
    const fragments = single ? 1 : (message?.length ?? 0) + 1;
    if (frame.payload.length > allowed || fragments > limits.fragments) {
      events.push({ type: "error", closeCode: 1009 });
      return { events, pongs, closeCode: 1009 };
    }
    message = message === null ? [frame] : [...message, frame];
    messageLength += frame.payload.length;
    if (!frame.fin) continue;
    const first = message[0];
    const data = concat(message.map((part) => part.payload));
    const decoded = first.rsv1 ? zlibInflate(data) : data;
    if (decoded.length > limits.message) {
      events.push({ type: "error", closeCode: 1009 });
      return { events, pongs, closeCode: 1009 };
    }
    if (first.opcode === 0x1) {
      events.push({ type: "text", data: textDecoder.decode(decoded) });
    } else events.push({ type: "binary", data: decoded });
    message = null;
    messageLength = 0;
  }
  return { events, pongs, closeCode: null };
}

/** A compressed message as zlib reads it, with the 00 00 ff ff tail. */
function zlibInflate(payload: Uint8Array): Uint8Array {
  const withTail = concat([payload, new Uint8Array([0, 0, 0xff, 0xff])]);
  return new Uint8Array(
    inflateRawSync(withTail, { finishFlush: constants.Z_SYNC_FLUSH }),
  );
}
