/**
 * Group 1: decoding a stream of masked client frames fed in 64 KiB chunks,
 * as a server reads it. Every call decodes the same fixed stream of N
 * frames; every case counts the messages it got and throws if any is
 * missing, so a decoder that skipped work (or a `ws` Receiver that deferred
 * its events) would fail instead of looking fast. Binary frames of every
 * size, and text frames (mixed UTF-8, decoded to strings) from 125 B: the
 * text frames of 64 KiB and more span reads, so their UTF-8 is checked
 * while they arrive.
 *
 * Decoders unmask in place, so each pass flips the payload bytes between
 * masked and unmasked; framing bytes never change, so every pass decodes the
 * same frames. Correctness is checked once, on fresh copies, before timing.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { FrameDecoder } from "../frame/decoder.ts";
import { Protocol } from "../protocol/protocol.ts";
import type { BenchCase } from "./bench_case.ts";
import {
  buildClientStream,
  buildText,
  CHUNK_SIZE,
  type ClientStream,
  framesPerStream,
  PAYLOAD_SIZES,
  sameBytes,
  sink,
  sizeLabel,
  splitIntoChunks,
} from "./fixtures.ts";
import { asBuffer, type WsVariant } from "./ws_loader.ts";

/** Decodes every chunk; returns the payload of every message, in order. */
type Decode = (chunks: readonly Uint8Array[]) => Uint8Array[];

function protocolDecoder(): Decode {
  const protocol = new Protocol({ role: "server" });
  return (chunks) => {
    const messages: Uint8Array[] = [];
    for (const chunk of chunks) {
      for (const event of protocol.receive(chunk)) {
        if (event.type !== "binary") {
          throw new Error(`Protocol: unexpected ${event.type} event`);
        }
        messages.push(event.data);
      }
    }
    return messages;
  };
}

function frameDecoder(): Decode {
  const decoder = new FrameDecoder({ expectMasked: true });
  return (chunks) => {
    const messages: Uint8Array[] = [];
    for (const chunk of chunks) {
      decoder.push(chunk);
      for (let frame = decoder.next(); frame; frame = decoder.next()) {
        // Views into the chunk: copy to keep them past the next push.
        messages.push(frame.payload.slice());
      }
    }
    return messages;
  };
}

function wsDecoder(ws: WsVariant): Decode {
  const receiver = new ws.Receiver({ isServer: true });
  let messages: Uint8Array[] = [];
  receiver.on("message", (data: Buffer, isBinary: boolean) => {
    if (!isBinary) throw new Error("ws: unexpected text message");
    messages.push(Uint8Array.prototype.slice.call(data));
  });
  receiver.on("error", (error: Error) => {
    throw error;
  });
  return (chunks) => {
    messages = [];
    for (const chunk of chunks) receiver.write(asBuffer(chunk));
    return messages;
  };
}

/**
 * Each frame's payload as the pieces the chunks of `chunkSize` cut it into:
 * what a decoder that hands out one contiguous buffer per frame has to
 * gather, for the allocation-and-copy floor.
 */
function payloadPieces(
  bytes: Uint8Array,
  chunkSize: number,
): Uint8Array[][] {
  const frames: Uint8Array[][] = [];
  let position = 0;
  while (position < bytes.length) {
    const second = bytes[position + 1];
    let length = second & 0x7f;
    let headerSize = 2;
    if (length === 126) {
      length = (bytes[position + 2] << 8) | bytes[position + 3];
      headerSize += 2;
    } else if (length === 127) {
      length = new DataView(bytes.buffer, bytes.byteOffset + position + 2, 8)
        .getUint32(4);
      headerSize += 8;
    }
    if ((second & 0x80) !== 0) headerSize += 4;
    const pieces: Uint8Array[] = [];
    let start = position + headerSize;
    const end = start + length;
    while (start < end) {
      const chunkEnd = Math.min(
        end,
        (Math.floor(start / chunkSize) + 1) * chunkSize,
      );
      pieces.push(bytes.slice(start, chunkEnd));
      start = chunkEnd;
    }
    frames.push(pieces);
    position = end;
  }
  return frames;
}

/** Decodes a fresh copy of the stream and compares every payload. */
function verify(name: string, decode: Decode, stream: ClientStream): void {
  const copy = stream.bytes.slice();
  const messages = decode(splitIntoChunks(copy, CHUNK_SIZE));
  if (messages.length !== stream.frameCount) {
    throw new Error(
      `${name}: ${messages.length} messages, expected ${stream.frameCount}`,
    );
  }
  for (let index = 0; index < messages.length; index++) {
    if (!sameBytes(messages[index], stream.payloads[index])) {
      throw new Error(`${name}: message ${index} differs from what was sent`);
    }
  }
}

function countMismatch(name: string, got: number, expected: number): Error {
  return new Error(`${name}: decoded ${got} messages, expected ${expected}`);
}

/**
 * The decode cases for every payload size: each `ws` variant given (the
 * first is the baseline), our `Protocol` and `FrameDecoder`, and the copy
 * ceiling.
 */
export function decodeCases(wsVariants: readonly WsVariant[]): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const payloadSize of PAYLOAD_SIZES) {
    const frameCount = framesPerStream(payloadSize);
    const stream = buildClientStream(payloadSize, frameCount);
    const group = `decode ${sizeLabel(payloadSize)} masked frames`;
    const common = {
      group,
      messagesPerCall: frameCount,
      bytesPerCall: payloadSize * frameCount,
    };

    verify("Protocol", protocolDecoder(), stream);
    verify("FrameDecoder", frameDecoder(), stream);
    for (const ws of wsVariants) verify(ws.label, wsDecoder(ws), stream);

    wsVariants.forEach((ws, index) => {
      const receiver = new ws.Receiver({ isServer: true });
      let messages = 0;
      receiver.on("message", (data: Buffer) => {
        messages++;
        sink.value = data;
      });
      receiver.on("error", (error: Error) => {
        throw error;
      });
      const chunks = splitIntoChunks(stream.bytes.slice(), CHUNK_SIZE).map(
        asBuffer,
      );
      const name = `${ws.label} Receiver.write`;
      cases.push({
        ...common,
        name,
        side: "ws",
        baseline: index === 0,
        fn: () => {
          messages = 0;
          for (const chunk of chunks) receiver.write(chunk);
          if (messages !== frameCount) {
            throw countMismatch(name, messages, frameCount);
          }
        },
      });
    });

    {
      const protocol = new Protocol({ role: "server" });
      const chunks = splitIntoChunks(stream.bytes.slice(), CHUNK_SIZE);
      const name = "ours Protocol.receive";
      cases.push({
        ...common,
        name,
        side: "ours",
        fn: () => {
          let messages = 0;
          for (const chunk of chunks) {
            const events = protocol.receive(chunk);
            messages += events.length;
            sink.value = events;
          }
          if (messages !== frameCount) {
            throw countMismatch(name, messages, frameCount);
          }
        },
      });
    }

    {
      const decoder = new FrameDecoder({ expectMasked: true });
      const chunks = splitIntoChunks(stream.bytes.slice(), CHUNK_SIZE);
      const name = "ours FrameDecoder";
      cases.push({
        ...common,
        name,
        side: "ours",
        fn: () => {
          let messages = 0;
          for (const chunk of chunks) {
            decoder.push(chunk);
            for (let frame = decoder.next(); frame; frame = decoder.next()) {
              messages++;
              sink.value = frame;
            }
          }
          if (messages !== frameCount) {
            throw countMismatch(name, messages, frameCount);
          }
        },
      });
    }

    if (payloadSize >= CHUNK_SIZE) {
      const pieces = payloadPieces(stream.bytes, CHUNK_SIZE);
      cases.push({
        ...common,
        name: "floor: new Uint8Array per frame + set pieces",
        side: "floor",
        fn: () => {
          for (const framePieces of pieces) {
            const payload = new Uint8Array(payloadSize);
            let filled = 0;
            for (const piece of framePieces) {
              payload.set(piece, filled);
              filled += piece.length;
            }
            sink.value = payload;
          }
        },
      });
    }

    {
      const chunks = splitIntoChunks(stream.bytes.slice(), CHUNK_SIZE);
      const target = new Uint8Array(stream.bytes.length);
      cases.push({
        ...common,
        name: "ceiling: Uint8Array.set of the same chunks",
        side: "ceiling",
        fn: () => {
          let offset = 0;
          for (const chunk of chunks) {
            target.set(chunk, offset);
            offset += chunk.length;
          }
          sink.value = target;
        },
      });
    }
  }
  return cases;
}

/** The sizes of the text decode groups. */
const TEXT_PAYLOAD_SIZES: readonly number[] = [
  125,
  1024,
  64 * 1024,
  1024 * 1024,
];

/**
 * The text decode cases: each `ws` variant given (the first is the
 * baseline) validating and turning each message into a string, and our
 * `Protocol`, which does both before it reports the message. Unmasking in
 * place would turn a second pass's text into noise, so every call first
 * copies the masked stream back (the same cost in every case).
 */
export function textDecodeCases(wsVariants: readonly WsVariant[]): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const payloadSize of TEXT_PAYLOAD_SIZES) {
    const frameCount = framesPerStream(payloadSize);
    const stream = buildClientStream(payloadSize, frameCount, "text");
    const expected = buildText(payloadSize, "mixed");
    const common = {
      group: `decode ${
        sizeLabel(payloadSize)
      } masked text frames (mixed UTF-8)`,
      messagesPerCall: frameCount,
      bytesPerCall: payloadSize * frameCount,
    };
    const check = (name: string, messages: number, last: unknown) => {
      if (messages !== frameCount) {
        throw countMismatch(name, messages, frameCount);
      }
      if (last !== expected) throw new Error(`${name}: the text differs`);
    };

    wsVariants.forEach((ws, index) => {
      const receiver = new ws.Receiver({ isServer: true });
      let messages = 0;
      let last = "";
      receiver.on("message", (data: Buffer, isBinary: boolean) => {
        if (isBinary) throw new Error("ws: unexpected binary message");
        messages++;
        last = data.toString();
      });
      receiver.on("error", (error: Error) => {
        throw error;
      });
      const work = stream.bytes.slice();
      const chunks = splitIntoChunks(work, CHUNK_SIZE).map(asBuffer);
      const name = `${ws.label} Receiver.write + toString`;
      const fn = () => {
        work.set(stream.bytes);
        messages = 0;
        for (const chunk of chunks) receiver.write(chunk);
        check(name, messages, last);
      };
      fn();
      cases.push({
        ...common,
        name,
        side: "ws",
        baseline: index === 0,
        fn,
      });
    });

    {
      const protocol = new Protocol({ role: "server" });
      const work = stream.bytes.slice();
      const chunks = splitIntoChunks(work, CHUNK_SIZE);
      const name = "ours Protocol.receive";
      const fn = () => {
        work.set(stream.bytes);
        let messages = 0;
        let last: unknown;
        for (const chunk of chunks) {
          for (const event of protocol.receive(chunk)) {
            if (event.type !== "text") {
              throw new Error(`${name}: unexpected ${event.type} event`);
            }
            messages++;
            last = event.data;
          }
        }
        check(name, messages, last);
      };
      fn();
      cases.push({ ...common, name, side: "ours", fn });
    }
  }
  return cases;
}
