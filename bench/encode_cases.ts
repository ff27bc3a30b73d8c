/**
 * Group 2: encoding server frames (unmasked), one message per call.
 *
 * `ws`'s `Sender.frame` returns `[header, payload]` and leaves the payload
 * where it is (the socket gets two writes); ours returns one buffer with the
 * payload copied after the header. So the group also times `ws` joined into
 * one buffer, and the ceiling: allocate header + payload and `set` the
 * payload, the least a one-buffer encoder does. `Protocol` runs with the
 * pooled frame memory the socket uses over this package's transports, and
 * with its default (a buffer per frame) for sans-I/O users.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { encodeFrame, frameHeaderLength } from "../frame/encoder.ts";
import { Opcode } from "../frame/types.ts";
import { Protocol } from "../protocol/protocol.ts";
import { pooledFrames } from "../frame/pool.ts";
import type { BenchCase } from "./bench_case.ts";
import {
  buildText,
  PAYLOAD_SIZES,
  sameBytes,
  sink,
  sizeLabel,
  Xorshift,
} from "./fixtures.ts";
import { asBuffer, type WsVariant } from "./ws_loader.ts";
import { concatBytes } from "../frame/bytes.ts";

function checkSame(name: string, got: Uint8Array, expected: Uint8Array): void {
  if (!sameBytes(got, expected)) {
    throw new Error(`${name}: encoded bytes differ from ws's`);
  }
}

function binaryCases(ws: WsVariant, payloadSize: number): BenchCase[] {
  const payload = new Xorshift(payloadSize).bytes(payloadSize);
  const payloadBuffer = asBuffer(payload.slice());
  const options = {
    fin: true,
    opcode: Opcode.Binary,
    mask: false,
    readOnly: false,
    rsv1: false,
  };
  const protocol = new Protocol({
    role: "server",
    frameAllocator: pooledFrames,
  });
  const fresh = new Protocol({ role: "server" });

  const expected = concatBytes(ws.frame(payloadBuffer, options));
  checkSame("encodeFrame", encodeFrame(Opcode.Binary, payload), expected);
  protocol.sendBinary(payload);
  checkSame(
    "Protocol.sendBinary",
    concatBytes(protocol.takeOutgoing()),
    expected,
  );
  fresh.sendBinary(payload);
  checkSame("Protocol.sendBinary", concatBytes(fresh.takeOutgoing()), expected);

  const headerLength = frameHeaderLength(payloadSize, false);
  const common = {
    group: `encode ${sizeLabel(payloadSize)} binary server frame`,
    messagesPerCall: 1,
    bytesPerCall: payloadSize,
  };
  return [
    {
      ...common,
      name: `${ws.label} Sender.frame`,
      side: "ws",
      baseline: true,
      fn: () => {
        sink.value = ws.frame(payloadBuffer, options);
      },
    },
    {
      ...common,
      name: `${ws.label} Sender.frame + Buffer.concat (one buffer)`,
      side: "ws",
      fn: () => {
        sink.value = Buffer.concat(ws.frame(payloadBuffer, options));
      },
    },
    {
      ...common,
      name: "ours encodeFrame",
      side: "ours",
      fn: () => {
        sink.value = encodeFrame(Opcode.Binary, payload);
      },
    },
    {
      ...common,
      name: "ours Protocol.sendBinary + takeOutgoing",
      side: "ours",
      fn: () => {
        protocol.sendBinary(payload);
        sink.value = protocol.takeOutgoing();
      },
    },
    {
      ...common,
      name: "ours Protocol.sendBinary, fresh frames",
      side: "ours",
      fn: () => {
        fresh.sendBinary(payload);
        sink.value = fresh.takeOutgoing();
      },
    },
    {
      ...common,
      name: "ceiling: new Uint8Array + set of the payload",
      side: "ceiling",
      fn: () => {
        const frame = new Uint8Array(headerLength + payloadSize);
        frame.set(payload, headerLength);
        sink.value = frame;
      },
    },
  ];
}

const textEncoder = new TextEncoder();

function textCases(ws: WsVariant, payloadSize: number): BenchCase[] {
  const text = buildText(payloadSize, "mixed");
  const options = {
    fin: true,
    opcode: Opcode.Text,
    mask: false,
    readOnly: false,
    rsv1: false,
  };
  const protocol = new Protocol({
    role: "server",
    frameAllocator: pooledFrames,
  });
  const fresh = new Protocol({ role: "server" });

  const expected = concatBytes(ws.frame(text, options));
  protocol.sendText(text);
  checkSame(
    "Protocol.sendText",
    concatBytes(protocol.takeOutgoing()),
    expected,
  );
  fresh.sendText(text);
  checkSame("Protocol.sendText", concatBytes(fresh.takeOutgoing()), expected);

  const common = {
    group: `encode ${sizeLabel(payloadSize)} text server frame (mixed UTF-8)`,
    messagesPerCall: 1,
    bytesPerCall: payloadSize,
  };
  return [
    {
      ...common,
      name: `${ws.label} Sender.frame(string)`,
      side: "ws",
      baseline: true,
      fn: () => {
        sink.value = ws.frame(text, options);
      },
    },
    {
      ...common,
      name: "ours Protocol.sendText + takeOutgoing",
      side: "ours",
      fn: () => {
        protocol.sendText(text);
        sink.value = protocol.takeOutgoing();
      },
    },
    {
      ...common,
      name: "ours Protocol.sendText, fresh frames",
      side: "ours",
      fn: () => {
        fresh.sendText(text);
        sink.value = fresh.takeOutgoing();
      },
    },
    {
      ...common,
      name: "ceiling: TextEncoder.encode alone",
      side: "ceiling",
      fn: () => {
        sink.value = textEncoder.encode(text);
      },
    },
  ];
}

/** The encode cases for every payload size, binary then text. */
export function encodeCases(ws: WsVariant): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const payloadSize of PAYLOAD_SIZES) {
    cases.push(...binaryCases(ws, payloadSize));
  }
  for (const payloadSize of PAYLOAD_SIZES) {
    cases.push(...textCases(ws, payloadSize));
  }
  return cases;
}
