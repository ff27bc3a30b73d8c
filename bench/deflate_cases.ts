/**
 * What the permessage-deflate benchmarks compare, on streams of messages
 * sent on one connection (context takeover makes each message depend on
 * the ones before it):
 *
 * - `chat`: the chat app's own messages (`examples/chat/PROTOCOL.md`), JSON
 *   of 100-200 bytes, each a little different;
 * - `doc-1k`, `doc-16k`, `doc-64k`: JSON documents of that size (lists of
 *   chat messages), each a different slice of one long history.
 *
 * The sides, each compressing the stream in order and framing each message
 * (compress + frame is what a send costs), and inflating what it sent:
 *
 * - `ours`: this library's `Protocol` with the `./deflate` entry's
 *   compressor (the default preset, `"dedicated-32k"`: context takeover,
 *   4 KiB windows);
 * - `ours-256k`: the same with `"dedicated-256k"`, zlib's and `ws`'s
 *   settings (32 KiB windows, memory level 8);
 * - `ours-shared`: the same with the `"shared"` preset (no takeover);
 * - `ours-no-takeover`: what this library sent before, a fresh platform
 *   `CompressionStream` per message (`deflateMessage`);
 * - `ws`: the npm `ws` package's `PerMessageDeflate` with its defaults
 *   (context takeover, zlib level 6 through `node:zlib`) and `Sender.frame`.
 *
 * Runs under Deno, Bun and Node (`node:` modules only, no `Deno.*`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Protocol } from "../protocol/protocol.ts";
import { PerMessageDeflate } from "../deflate/extension.ts";
import { deflateMessage } from "../deflate/payload.ts";
import { perMessageDeflate } from "../deflate.ts";
import type { PerMessageDeflateParams } from "../deflate/negotiation.ts";
import { FrameDecoder } from "../frame/decoder.ts";
import { RSV1 } from "../frame/types.ts";

const require = createRequire(import.meta.url);
const encoder = new TextEncoder();

/** The part of `ws`'s `PerMessageDeflate` the benchmarks drive. */
interface WsPerMessageDeflate {
  accept(offers: Record<string, unknown[]>[]): unknown;
  compress(
    data: Buffer,
    fin: boolean,
    callback: (error: Error | null, result: Buffer) => void,
  ): void;
  decompress(
    data: Buffer,
    fin: boolean,
    callback: (error: Error | null, result: Buffer) => void,
  ): void;
}

function wsModule(path: string): unknown {
  // By path: the package does not export these, and Bun resolves `ws` to
  // its own built-in module.
  return require(
    fileURLToPath(new URL(`../node_modules/ws/${path}`, import.meta.url)),
  );
}

/** One benchmarked stream of messages. */
export interface DeflateCase {
  /** Short name. */
  name: string;
  /** The messages, sent in order on one connection. */
  messages: Uint8Array[];
}

const SENTENCES = [
  "Hello everyone!",
  "Has anyone tried the new build yet?",
  "I'll be five minutes late to the standup.",
  "The deploy finished, all green.",
  "Can someone review my pull request? It's the one about caching.",
  "Lunch at noon?",
  "Thanks, that fixed it.",
  "What time is the demo tomorrow?",
];
const NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"];

/**
 * A message as the chat app's server sends it to a room (100-200 bytes).
 *
 * @param index which message
 * @returns the JSON text
 */
export function chatMessage(index: number): string {
  return JSON.stringify({
    type: "message",
    username: NAMES[(index * 5) % NAMES.length],
    room: "lobby",
    text: `${SENTENCES[(index * 3) % SENTENCES.length]} (#${index})`,
    ts: 1_767_225_600_000 + index * 1_537,
  });
}

/** A JSON list of chat messages of about `bytes` bytes, from `start`. */
function document(bytes: number, start: number): Uint8Array {
  const messages: string[] = [];
  let length = 2;
  for (let index = start; length < bytes; index++) {
    const message = chatMessage(index);
    messages.push(message);
    length += message.length + 1;
  }
  return encoder.encode(`[${messages.join(",")}]`.slice(0, bytes));
}

/**
 * The benchmarked streams.
 *
 * @param chatCount how many chat messages (10,000 for the byte counts)
 * @returns the cases, in table order
 */
export function deflateCases(chatCount = 10_000): DeflateCase[] {
  const chat: Uint8Array[] = [];
  for (let i = 0; i < chatCount; i++) chat.push(encoder.encode(chatMessage(i)));
  const documents = (size: number, count: number): Uint8Array[] => {
    const list: Uint8Array[] = [];
    // Each document starts 37 messages after the previous one: they share
    // most of their content, as successive snapshots of a feed do.
    for (let i = 0; i < count; i++) list.push(document(size, i * 37));
    return list;
  };
  return [
    { name: "chat", messages: chat },
    { name: "doc-1k", messages: documents(1024, 200) },
    { name: "doc-16k", messages: documents(16 * 1024, 50) },
    { name: "doc-64k", messages: documents(64 * 1024, 20) },
  ];
}

/** One side: compresses and frames a stream, inflates a stream. */
export interface DeflateSide {
  /** For tables. */
  name: string;
  /** A fresh sender (a connection's compressor). */
  sender(): (message: Uint8Array) => Promise<Uint8Array> | Uint8Array;
  /** A fresh receiver (a connection's inflater) for this side's payloads. */
  receiver(): (payload: Uint8Array) => Promise<Uint8Array> | Uint8Array;
}

const TAKEOVER: PerMessageDeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 12,
  clientMaxWindowBits: 12,
};
const NO_TAKEOVER: PerMessageDeflateParams = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** The payload of one frame a server protocol queued (RSV1 allowed). */
function payloadOf(frame: Uint8Array): Uint8Array {
  const decoder = new FrameDecoder({
    expectMasked: false,
    allowedReservedBits: RSV1,
  });
  decoder.push(frame);
  return decoder.next()!.payload;
}

function oursWith(
  name: string,
  preset: "dedicated-32k" | "dedicated-256k" | "shared",
  params: PerMessageDeflateParams,
): DeflateSide {
  const setup = perMessageDeflate({ preset, threshold: 0 });
  return {
    name,
    sender() {
      const protocol = new Protocol({
        role: "server",
        extension: new PerMessageDeflate({
          params,
          compressors: setup.compressors,
          threshold: 0,
        }),
      });
      const text = new TextDecoder();
      return (message) => {
        protocol.sendText(text.decode(message));
        return payloadOf(protocol.takeOutgoing()[0]);
      };
    },
    receiver() {
      const extension = new PerMessageDeflate({ params, role: "client" });
      return (payload) => extension.decode(payload, 1 << 26);
    },
  };
}

/** This library with the default preset: context takeover, 4 KiB windows. */
export const ours: DeflateSide = oursWith("ours", "dedicated-32k", TAKEOVER);

/** This library with ws's settings: 32 KiB windows, zlib memory level 8. */
export const ours256k: DeflateSide = oursWith("ours-256k", "dedicated-256k", {
  ...TAKEOVER,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
});

/** This library with the shared preset: no context takeover. */
export const oursShared: DeflateSide = oursWith(
  "ours-shared",
  "shared",
  NO_TAKEOVER,
);

/** What this library sent before: a platform `CompressionStream` per
 * message, framed; inflated by our inflater with no window. */
export const oursNoTakeover: DeflateSide = {
  name: "ours-no-takeover",
  sender() {
    return async (message) => await deflateMessage(message);
  },
  receiver() {
    const extension = new PerMessageDeflate();
    return (payload) => extension.decode(payload, 1 << 26);
  },
};

function viaCallback(
  run: (callback: (error: Error | null, result: Buffer) => void) => void,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    run((error, result) => {
      if (error) reject(error);
      else resolve(result);
    })
  );
}

function wsExtension(isServer: boolean): WsPerMessageDeflate {
  const PerMessageDeflateClass = wsModule("lib/permessage-deflate.js") as new (
    options: Record<string, unknown>,
    isServer: boolean,
    maxPayload: number,
  ) => WsPerMessageDeflate;
  const extension = new PerMessageDeflateClass(
    { threshold: 0 },
    isServer,
    1 << 26,
  );
  // A bare offer and answer: context takeover both ways, 32 KiB windows.
  extension.accept([{}]);
  return extension;
}

const wsSender = wsModule("lib/sender.js") as {
  frame(data: Buffer, options: Record<string, unknown>): Buffer[];
};

/** `ws` with its defaults: compress + `Sender.frame`, as its send does. */
export const ws: DeflateSide = {
  name: "ws",
  sender() {
    const extension = wsExtension(true);
    return async (message) => {
      const compressed = await viaCallback((done) =>
        extension.compress(
          Buffer.from(message.buffer, message.byteOffset, message.length),
          true,
          done,
        )
      );
      const frame = wsSender.frame(compressed as Buffer, {
        fin: true,
        rsv1: true,
        opcode: 1,
        mask: false,
        readOnly: false,
      });
      return frame.length === 1
        ? payloadOf(frame[0])
        : new Uint8Array(compressed);
    };
  },
  receiver() {
    const extension = wsExtension(false);
    return (payload) =>
      viaCallback((done) =>
        extension.decompress(
          Buffer.from(payload.buffer, payload.byteOffset, payload.length),
          true,
          done,
        )
      );
  },
};

/** Every side, by name. */
export const SIDES: Record<string, DeflateSide> = {
  ours,
  "ours-256k": ours256k,
  "ours-shared": oursShared,
  "ours-no-takeover": oursNoTakeover,
  ws,
};

/**
 * Compresses a case's stream with a side, checks that the side's own
 * receiver reads every message back, and returns the payloads.
 *
 * @param side the side
 * @param item the case
 * @returns the payloads, in order
 */
export async function compressStream(
  side: DeflateSide,
  item: DeflateCase,
): Promise<Uint8Array[]> {
  const send = side.sender();
  const receive = side.receiver();
  const payloads: Uint8Array[] = [];
  for (const message of item.messages) {
    const payload = new Uint8Array(await send(message));
    const back = new Uint8Array(await receive(payload));
    if (Buffer.compare(Buffer.from(back), Buffer.from(message)) !== 0) {
      throw new Error(
        `${side.name}, ${item.name}: a message did not read back`,
      );
    }
    payloads.push(payload);
  }
  return payloads;
}
