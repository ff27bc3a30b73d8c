/**
 * Every entry of the package loads in this runtime (Deno, Bun and Node 24
 * run this file) without touching anything runtime-specific while loading,
 * and exports what its module doc promises.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

const ROOT = new URL("../../", import.meta.url);

/** What each entry must export, by kind. */
const PROMISED: Record<string, Record<string, "function" | "object">> = {
  ".": {
    serve: "function",
    upgradeWebSocket: "function",
    connect: "function",
    WebSocketConnection: "function",
    HandshakeError: "function",
    CloseCode: "object",
    DEFAULTS: "object",
  },
  "./codec": {
    Protocol: "function",
    FrameDecoder: "function",
    encodeFrame: "function",
    computeAcceptKey: "function",
    validateUpgradeRequest: "function",
    negotiateDeflate: "function",
    inflateMessage: "function",
    Utf8Validator: "function",
    ProtocolError: "function",
    DEFAULTS: "object",
  },
  "./frame": {
    FrameDecoder: "function",
    encodeFrame: "function",
    applyMask: "function",
    Opcode: "object",
  },
  "./handshake": {
    computeAcceptKey: "function",
    createClientHandshake: "function",
    verifyServerResponse: "function",
  },
  "./socket": {
    WebSocketConnection: "function",
    createPendingSocket: "function",
    attachConnection: "function",
    TopicRegistry: "function",
  },
  "./server": { serve: "function", upgradeWebSocket: "function" },
  "./node": {
    serveNodeNet: "function",
    upgradeWebSocket: "function",
    connect: "function",
  },
  "./bun": { serveBun: "function", upgradeWebSocket: "function" },
  "./client": { connect: "function", WebSocketConnection: "function" },
  "./redis": {
    RedisBroker: "function",
    BrokerError: "function",
  },
  "./deflate": { perMessageDeflate: "function" },
};

/** Internal plumbing no entry may expose. */
const INTERNAL = [
  "writeFrameHeader",
  "allocateFrameBytes",
  "evaluateDeflateOffer",
  "startServer",
  "connectWith",
  "queueEncodedFrame",
  "closeSocketForShutdown",
  "RunningServer",
  "HttpConnection",
  "checkDeflateSetup",
  "ZlibCompressors",
];

const config = JSON.parse(
  await readFile(new URL("deno.json", ROOT), "utf8"),
) as { exports: Record<string, string> };

describe("package entries", () => {
  test("deno.json exports exactly the entries checked here", () => {
    assert.deepEqual(
      Object.keys(config.exports).sort(),
      Object.keys(PROMISED).sort(),
    );
  });

  for (const [entry, path] of Object.entries(config.exports)) {
    test(`${entry} (${path}) loads and exports what it promises`, async () => {
      const loaded = await import(new URL(path, ROOT).href) as Record<
        string,
        unknown
      >;
      for (const [name, kind] of Object.entries(PROMISED[entry] ?? {})) {
        assert.equal(typeof loaded[name], kind, `${entry} exports ${name}`);
      }
      for (const name of INTERNAL) {
        assert.equal(name in loaded, false, `${entry} hides ${name}`);
      }
    });
  }
  test("./server, ./node and ./bun export one surface besides their adapters", async () => {
    // Each entry lists its exports itself, so that its docs show exactly
    // what it offers; this keeps the three lists from drifting apart.
    const own: Record<string, string[]> = {
      "./server": ["serve"],
      "./node": ["serveNodeNet", "connect"],
      "./bun": ["serveBun"],
    };
    const surfaces: Record<string, string[]> = {};
    for (const [entry, adapters] of Object.entries(own)) {
      const loaded = await import(new URL(config.exports[entry], ROOT).href);
      const names = Object.keys(loaded).filter((name) =>
        !adapters.includes(name)
      );
      surfaces[entry] = names.sort();
    }
    assert.deepEqual(surfaces["./node"], surfaces["./server"]);
    assert.deepEqual(surfaces["./bun"], surfaces["./server"]);
  });
});
