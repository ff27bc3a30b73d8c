/**
 * Fuzzing of permessage-deflate with context takeover (RFC 7692 section
 * 7.2.3.2): sequences of messages compressed by one stream that keeps its
 * window (zlib's port pako, and our compressor), with every window size,
 * inflated by our stateful inflater (an `InflateWindow` per connection)
 * and by pako's zlib inflate kept across messages as an independent
 * reader. Valid sequences read back exactly, message by message; a bad
 * message after good ones fails with 1007 (or 1009 past the limit), never
 * anything else, and the window never holds more than its size.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Deflate, Inflate, Z_SYNC_FLUSH } from "pako";
import { inflateMessage } from "../../deflate/payload.ts";
import { InflateWindow } from "../../deflate/inflate.ts";
import { perMessageDeflate } from "../../deflate.ts";
import { PerMessageDeflate } from "../../deflate/extension.ts";
import { Protocol } from "../../protocol/protocol.ts";
import { encodeFrame } from "../../frame/encoder.ts";
import { Opcode } from "../../frame/types.ts";
import { InvalidPayloadError, MessageTooBigError } from "../../errors.ts";
import { byteMutationArbitrary, concat, mutateAll } from "./bytes.ts";
import { parameters, runs } from "./config.ts";

const TAIL = Uint8Array.of(0, 0, 0xff, 0xff);

/** Messages that share content with each other at varied distances. */
const sequenceArbitrary = fc.tuple(
  fc.uint8Array({ minLength: 1, maxLength: 64 }),
  fc.array(
    fc.tuple(
      fc.nat({ max: 2000 }),
      fc.integer({ min: 0, max: 3000 }),
      fc.uint8Array({ maxLength: 40 }),
    ),
    { minLength: 1, maxLength: 8 },
  ),
).map(([seed, parts]) => {
  // A pool of bytes the messages copy pieces of, so that they repeat.
  const pool = new Uint8Array(4096);
  for (let i = 0; i < pool.length; i++) pool[i] = seed[i % seed.length] ^ i;
  return parts.map(([start, length, noise]) =>
    concat([pool.subarray(start, start + length), noise])
  );
});

const windowBitsArbitrary = fc.integer({ min: 8, max: 15 });

/** One pako stream compressing the sequence, sync-flushed, tails cut. A
 * flush with nothing new gives no bytes: that message is sent as `00`, an
 * empty stored block once the tail is back (RFC 7692 section 7.2.3.6). */
function pakoPayloads(
  messages: readonly Uint8Array[],
  windowBits: number,
): Uint8Array[] {
  const deflater = new Deflate({
    raw: true,
    windowBits: Math.max(windowBits, 9),
  });
  return messages.map((message) => {
    const chunks: Uint8Array[] = [];
    deflater.onData = (chunk: Uint8Array) => chunks.push(chunk);
    deflater.push(message, Z_SYNC_FLUSH);
    const payload = concat(chunks);
    if (payload.length === 0) return Uint8Array.of(0);
    return payload.subarray(0, payload.length - 4);
  });
}

/** Our compressor (what the ./deflate entry gives a connection). */
function ourPayloads(
  messages: readonly Uint8Array[],
  windowBits: number,
): Uint8Array[] {
  const compressor = perMessageDeflate().compressors.createCompressor({
    windowBits,
    noContextTakeover: false,
  });
  return messages.map((message) => compressor.compress(message, true));
}

/** pako's zlib inflate kept across messages, as a zlib peer reads them;
 * undefined where it refuses. */
function pakoInflateAll(
  payloads: readonly Uint8Array[],
  windowBits: number,
): Array<Uint8Array | undefined> {
  const inflater = new Inflate({ raw: true, windowBits });
  const results: Array<Uint8Array | undefined> = [];
  for (const payload of payloads) {
    const chunks: Uint8Array[] = [];
    inflater.onData = (chunk: Uint8Array) => chunks.push(chunk);
    inflater.push(concat([payload, TAIL]), Z_SYNC_FLUSH);
    if (inflater.err !== 0) {
      results.push(undefined);
      break;
    }
    results.push(concat(chunks));
  }
  return results;
}

/** Our stateful inflater over the sequence: each message, or the close
 * code of the first failure (nothing after it is read). */
function ourInflateAll(
  payloads: readonly Uint8Array[],
  windowBits: number,
  maxSize: number,
): { outputs: Array<Uint8Array | number>; window: InflateWindow } {
  const window = new InflateWindow(windowBits);
  const outputs: Array<Uint8Array | number> = [];
  for (const payload of payloads) {
    try {
      outputs.push(inflateMessage(payload, maxSize, window));
    } catch (error) {
      if (
        !(error instanceof InvalidPayloadError) &&
        !(error instanceof MessageTooBigError)
      ) throw error;
      outputs.push(error.closeCode);
      break;
    }
    assert.ok(window.length <= window.size);
    assert.ok(window.heldBytes <= window.size);
  }
  return { outputs, window };
}

describe("fuzz: permessage-deflate with context takeover", () => {
  test("sequences from one zlib stream or our compressor read back message by message, as zlib reads them", () => {
    fc.assert(
      fc.property(
        sequenceArbitrary,
        windowBitsArbitrary,
        fc.boolean(),
        (messages, windowBits, ours) => {
          const payloads = ours
            ? ourPayloads(messages, windowBits)
            : pakoPayloads(messages, windowBits);
          const { outputs } = ourInflateAll(payloads, windowBits, 1 << 20);
          assert.deepEqual(outputs, messages);
          // zlib, kept across messages with the same window, agrees.
          assert.deepEqual(
            pakoInflateAll(payloads, Math.max(windowBits, 9)),
            messages,
          );
        },
      ),
      parameters(runs(40)),
    );
  });

  test("a bad message after good ones fails with 1007 or 1009, nothing else; the window stays bounded", () => {
    fc.assert(
      fc.property(
        sequenceArbitrary,
        windowBitsArbitrary,
        fc.array(byteMutationArbitrary, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(100, 5000, 1 << 20),
        (messages, windowBits, mutations, maxSize) => {
          const payloads = pakoPayloads(messages, windowBits);
          const last = payloads.length - 1;
          payloads[last] = mutateAll(payloads[last], mutations);
          const { outputs } = ourInflateAll(payloads, windowBits, maxSize);
          for (let i = 0; i < outputs.length; i++) {
            const output = outputs[i];
            if (typeof output === "number") {
              assert.ok(output === 1007 || output === 1009, String(output));
              assert.equal(i, outputs.length - 1);
            } else if (i < last) {
              if (messages[i].length <= maxSize) {
                assert.deepEqual(output, messages[i]);
              }
            } else assert.ok(output.length <= maxSize);
          }
        },
      ),
      parameters(runs(40)),
    );
  });

  test("a back reference past what was kept is refused with 1007, as zlib with that window refuses it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 9, max: 14 }),
        fc.uint8Array({ minLength: 300, maxLength: 3000 }),
        fc.nat({ max: 250 }),
        (windowBits, first, start) => {
          // The second message repeats a piece of the first: compressed
          // with a 32 KiB window, it may refer back further than a smaller
          // window keeps.
          const second = first.slice(start, start + 50);
          const payloads = pakoPayloads([first, second], 15);
          const { outputs } = ourInflateAll(payloads, windowBits, 1 << 20);
          const zlib = pakoInflateAll(payloads, windowBits);
          assert.deepEqual(outputs[0], first);
          assert.deepEqual(zlib[0], first);
          if (zlib[1] === undefined) assert.equal(outputs[1], 1007);
          else assert.deepEqual(outputs[1], second);
        },
      ),
      parameters(runs(40)),
    );
  });

  test("in the protocol: good messages arrive, then a bad one fails the connection with 1007", () => {
    fc.assert(
      fc.property(
        sequenceArbitrary,
        fc.array(byteMutationArbitrary, { minLength: 1, maxLength: 4 }),
        (messages, mutations) => {
          const payloads = pakoPayloads(messages, 15);
          const bad = mutateAll(payloads[payloads.length - 1], mutations);
          const protocol = new Protocol({
            role: "server",
            maxMessageSize: 1 << 20,
            extension: new PerMessageDeflate({
              params: {
                serverNoContextTakeover: false,
                clientNoContextTakeover: false,
                serverMaxWindowBits: 15,
                clientMaxWindowBits: 15,
              },
            }),
          });
          const frames = [...payloads.slice(0, -1), bad].map((payload) =>
            encodeFrame(Opcode.Binary, payload, { rsv1: true, mask: true })
          );
          const events = protocol.receive(concat(frames));
          for (let i = 0; i < messages.length - 1; i++) {
            const event = events[i];
            assert.equal(event?.type, "binary");
            assert.deepEqual(
              (event as { data: Uint8Array }).data,
              messages[i],
            );
          }
          const last = events.at(-1);
          if (last?.type === "error") {
            assert.ok([1007, 1009].includes(last.error.closeCode));
          } else assert.equal(last?.type, "binary");
        },
      ),
      parameters(runs(40)),
    );
  });
});
