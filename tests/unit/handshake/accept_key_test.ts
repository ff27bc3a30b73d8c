// The Sec-WebSocket-Accept computation (RFC 6455 section 4.2.2), checked
// against published examples and an independent SHA-1, and generateKey.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  computeAcceptKey,
  generateKey,
  validateUpgradeRequest,
  WEBSOCKET_GUID,
} from "../../../handshake.ts";
import {
  base64ToBytes,
  bytesToBase64,
  RFC_ACCEPT,
  RFC_KEY,
  upgradeRequest,
} from "../../support/handshake.ts";

/** A small SHA-1 (FIPS 180-4) written independently of the code under test,
 * so the accept key can be checked by a second method. */
function referenceSha1(message: Uint8Array): Uint8Array {
  const paddedLength = Math.ceil((message.length + 9) / 64) * 64;
  const padded = new Uint8Array(paddedLength);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bitLength = message.length * 8;
  view.setUint32(paddedLength - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(paddedLength - 4, bitLength >>> 0);
  const state = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const words = new Uint32Array(80);
  const rotateLeft = (x: number, n: number) => (x << n) | (x >>> (32 - n));
  for (let block = 0; block < paddedLength; block += 64) {
    for (let t = 0; t < 16; t++) words[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 80; t++) {
      words[t] = rotateLeft(
        words[t - 3] ^ words[t - 8] ^ words[t - 14] ^ words[t - 16],
        1,
      );
    }
    let [a, b, c, d, e] = state;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) [f, k] = [(b & c) | (~b & d), 0x5a827999];
      else if (t < 40) [f, k] = [b ^ c ^ d, 0x6ed9eba1];
      else if (t < 60) [f, k] = [(b & c) | (b & d) | (c & d), 0x8f1bbcdc];
      else [f, k] = [b ^ c ^ d, 0xca62c1d6];
      const next = (rotateLeft(a, 5) + f + e + k + words[t]) >>> 0;
      [e, d, c, b, a] = [d, c, rotateLeft(b, 30) >>> 0, a, next];
    }
    state[0] = (state[0] + a) >>> 0;
    state[1] = (state[1] + b) >>> 0;
    state[2] = (state[2] + c) >>> 0;
    state[3] = (state[3] + d) >>> 0;
    state[4] = (state[4] + e) >>> 0;
  }
  const digest = new Uint8Array(20);
  const digestView = new DataView(digest.buffer);
  for (let i = 0; i < 5; i++) digestView.setUint32(i * 4, state[i]);
  return digest;
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

describe("computeAcceptKey and generateKey", () => {
  test("RFC 6455 section 1.3 example", async () => {
    assert.equal(await computeAcceptKey(RFC_KEY), RFC_ACCEPT);
  });

  test("a second published example (Wikipedia, WebSocket article)", async () => {
    assert.equal(
      await computeAcceptKey("x3JJHMbDL1EzLkh9GBhXDw=="),
      "HSmrc0sMlYUkAGmm5OPpG2HaGWk=",
    );
  });

  test("SHA-1 paths agree with the FIPS 180 'abc' vector", async () => {
    const abc = new TextEncoder().encode("abc");
    const expected = "a9993e364706816aba3e25717850c26c9cd0d89d";
    const subtle = await crypto.subtle.digest("SHA-1", abc);
    assert.equal(toHex(new Uint8Array(subtle)), expected);
    assert.equal(toHex(referenceSha1(abc)), expected);
    const twoBlocks = new TextEncoder().encode(
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    );
    assert.equal(
      toHex(referenceSha1(twoBlocks)),
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    );
  });

  test("accept keys match an independent SHA-1 for random keys", async () => {
    for (let i = 0; i < 20; i++) {
      const key = generateKey();
      const expected = referenceSha1(
        new TextEncoder().encode(key + WEBSOCKET_GUID),
      );
      const accept = await computeAcceptKey(key);
      assert.deepEqual(base64ToBytes(accept), expected);
    }
  });

  test("generateKey gives 16 random bytes as canonical base64", () => {
    const first = generateKey();
    const second = generateKey();
    assert.equal(first.length, 24);
    assert.equal(base64ToBytes(first).length, 16);
    assert.equal(bytesToBase64(base64ToBytes(first)), first);
    assert.notEqual(first, second);
    const upgrade = validateUpgradeRequest(
      upgradeRequest({ "Sec-WebSocket-Key": first }),
    );
    assert.equal(upgrade.key, first);
  });
});
