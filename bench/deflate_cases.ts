/**
 * What the permessage-deflate benchmarks compare: this library's
 * `deflateMessage` (a fresh platform `CompressionStream` per message) /
 * `inflateMessage` (its own DEFLATE decoder, `inflate.ts`) and the npm
 * `ws` package's `PerMessageDeflate.compress` / `decompress` (one
 * `node:zlib` stream per connection, flushed and reset per message), both
 * with no context takeover, and the messages they compress:
 *
 * - `chat`: one chat message as JSON (about 140 bytes; below the default
 *   1024-byte threshold, so only sent compressed with threshold 0, but what
 *   a browser compresses anyway);
 * - `history`: 16 KiB of chat messages as a JSON array;
 * - `document`: 1 MiB of the same, for throughput;
 * - `random`: 16 KiB of random bytes, which do not shrink.
 *
 * Runs under Deno and Bun (`node:` modules only, no `Deno.*`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { deflateMessage, inflateMessage } from "../deflate/payload.ts";

const require = createRequire(import.meta.url);

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

/** `ws`'s `lib/permessage-deflate.js`, by path: the package does not
 * export it, and Bun resolves `ws` to its own built-in module. */
const PerMessageDeflate: new (
  options: Record<string, unknown>,
) => WsPerMessageDeflate = require(
  fileURLToPath(
    new URL("../node_modules/ws/lib/permessage-deflate.js", import.meta.url),
  ),
);

/** `ws` as a server that agreed no context takeover both ways. */
function wsServerSide(): WsPerMessageDeflate {
  const extension = new PerMessageDeflate({
    isServer: true,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    threshold: 0,
    maxPayload: 64 * 1024 * 1024,
  });
  extension.accept([{
    server_no_context_takeover: [true],
    client_no_context_takeover: [true],
  }]);
  return extension;
}

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

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** One permessage-deflate implementation, per message. */
export interface DeflateCodec {
  /** For result tables. */
  name: string;
  /** Compresses one message into a frame payload. */
  deflate(message: Uint8Array): Promise<Uint8Array>;
  /** Inflates one frame payload (at most `maxSize` bytes). */
  inflate(payload: Uint8Array, maxSize: number): Promise<Uint8Array>;
}

/** This library: a fresh platform `CompressionStream` per message sent,
 * its own decoder for each message received. */
export const ours: DeflateCodec = {
  name: "ours (CompressionStream + inflate.ts)",
  deflate: (message) => deflateMessage(message),
  // Synchronous; wrapped to compare with ws's callback.
  inflate: (payload, maxSize) =>
    Promise.resolve(inflateMessage(payload, maxSize)),
};

const wsDeflater = wsServerSide();
/** A second instance: a server inflates with its own stream. */
const wsInflater = wsServerSide();

/** `ws`: one `node:zlib` stream per direction, reset per message. */
export const ws: DeflateCodec = {
  name: "ws (node:zlib)",
  deflate: (message) =>
    viaCallback((done) => wsDeflater.compress(asBuffer(message), true, done)),
  inflate: (payload) =>
    viaCallback((done) => wsInflater.decompress(asBuffer(payload), true, done)),
};

const encoder = new TextEncoder();

function chatMessage(index: number): string {
  return JSON.stringify({
    type: "message",
    room: "general",
    user: `user${index % 17}`,
    text: `Hello everyone, this is message number ${index}. How are you?`,
    sentAt: 1_700_000_000_000 + index * 1234,
  });
}

function chatHistory(bytes: number): Uint8Array {
  const messages: string[] = [];
  let length = 2;
  for (let index = 0; length < bytes; index++) {
    const message = chatMessage(index);
    messages.push(message);
    length += message.length + 1;
  }
  return encoder.encode(`[${messages.join(",")}]`);
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  return bytes;
}

/** A benchmarked message and both sides' compressed payloads of it. */
export interface DeflateCase {
  /** Short name. */
  name: string;
  /** The message. */
  message: Uint8Array;
  /** What this library sends for it. */
  oursPayload: Uint8Array;
  /** What `ws` sends for it. */
  wsPayload: Uint8Array;
}

function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  return Buffer.compare(asBuffer(left), asBuffer(right)) === 0;
}

/**
 * Builds the cases, checking that each side reads the other's payload back
 * to the message.
 *
 * @returns the cases, in table order
 */
export async function deflateCases(): Promise<DeflateCase[]> {
  const messages: Array<[string, Uint8Array]> = [
    ["chat", encoder.encode(chatMessage(7))],
    ["history", chatHistory(16 * 1024)],
    ["document", chatHistory(1024 * 1024)],
    ["random", randomBytes(16 * 1024)],
  ];
  const cases: DeflateCase[] = [];
  for (const [name, message] of messages) {
    const oursPayload = await ours.deflate(message);
    const wsPayload = new Uint8Array(await ws.deflate(message));
    const fromWs = await ours.inflate(wsPayload, message.length);
    const fromOurs = await ws.inflate(oursPayload, message.length);
    if (!sameBytes(fromWs, message) || !sameBytes(fromOurs, message)) {
      throw new Error(`${name}: the payloads do not round-trip`);
    }
    cases.push({ name, message, oursPayload, wsPayload });
  }
  return cases;
}

/**
 * One line per case: message size and each side's compressed size.
 *
 * @param cases from {@linkcode deflateCases}
 * @returns the table
 */
export function wireTable(cases: readonly DeflateCase[]): string {
  const percent = (part: number, whole: number) =>
    `${(100 * part / whole).toFixed(1)}%`;
  const lines = ["bytes on the wire (compressed payload):"];
  for (const { name, message, oursPayload, wsPayload } of cases) {
    lines.push(
      `  ${name.padEnd(9)} ${String(message.length).padStart(8)} B -> ours ${
        String(oursPayload.length).padStart(6)
      } B (${percent(oursPayload.length, message.length)}), ws ${
        String(wsPayload.length).padStart(6)
      } B (${percent(wsPayload.length, message.length)}), ours/ws ${
        (oursPayload.length / wsPayload.length).toFixed(3)
      }`,
    );
  }
  return lines.join("\n");
}
