// Utf8PrefixDecoder, the decoder of a text payload arriving in pieces,
// agrees with the byte-by-byte Utf8Validator on every prefix of many byte
// strings fed in pieces of every size (it fails exactly when the bytes so
// far can no longer start valid UTF-8), and decodes what it accepts as the
// platform's strict decoder does. It relies on the platform's TextDecoder,
// so this runs in every runtime.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Utf8PrefixDecoder, Utf8Validator } from "../../../frame/utf8.ts";
import { InvalidPayloadError } from "../../../errors.ts";

/** Whether `bytes` can still start a valid UTF-8 text. */
function canStartValidText(bytes: Uint8Array): boolean {
  return new Utf8Validator().push(bytes);
}

/** The strict decoding of `bytes`, or null when it is not valid UTF-8. */
function strictDecode(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes,
    );
  } catch {
    return null;
  }
}

/** Whether `check` accepted `bytes`. */
function accepts(text: Utf8PrefixDecoder, bytes: Uint8Array): boolean {
  try {
    text.check(bytes);
    return true;
  } catch (error) {
    assert.ok(error instanceof InvalidPayloadError);
    return false;
  }
}

/** Bytes around every boundary of the UTF-8 rules, and whole characters. */
const EDGE_BYTES = [
  0x00,
  0x41,
  0x7f,
  0x80,
  0x8f,
  0x90,
  0x9f,
  0xa0,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xdf,
  0xe0,
  0xed,
  0xef,
  0xf0,
  0xf4,
  0xf5,
  0xff,
];
const CHARACTERS = ["a", "é", "€", "😀", "\ufffd", "\ufeff", "中"].map((text) =>
  new TextEncoder().encode(text)
);

/** A deterministic mix of whole characters and edge bytes; one sample in
 * eight is padded past the size from which decoded text is kept. */
function* samples(count: number): Generator<Uint8Array> {
  let state = 0x2545f491;
  const next = (limit: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % limit;
  };
  for (let sample = 0; sample < count; sample++) {
    const bytes: number[] = [];
    if (next(8) === 0) bytes.push(...new Array(17_000).fill(0x62));
    const parts = 1 + next(6);
    for (let part = 0; part < parts; part++) {
      if (next(3) === 0) bytes.push(EDGE_BYTES[next(EDGE_BYTES.length)]);
      else bytes.push(...CHARACTERS[next(CHARACTERS.length)]);
    }
    yield new Uint8Array(bytes);
  }
}

describe("Utf8PrefixDecoder", () => {
  test("fails exactly when the bytes so far cannot start valid UTF-8", () => {
    let compared = 0;
    for (const bytes of samples(1500)) {
      const label = `[${[...bytes.subarray(-12)].map((b) => b.toString(16))}]`;
      for (const size of [1, 2, 3, 5, 8, 4096, bytes.length]) {
        // Long samples are fed in large pieces only, past the padding.
        if (bytes.length > 1000 && size < 4096) continue;
        const text = new Utf8PrefixDecoder();
        let failed = false;
        for (
          let end = size;
          !failed;
          end = Math.min(bytes.length, end + size)
        ) {
          const prefix = bytes.subarray(0, end);
          const accepted = accepts(text, prefix);
          assert.equal(accepted, canStartValidText(prefix), `${label} ${end}`);
          compared++;
          failed = !accepted;
          if (end === bytes.length) break;
        }
        if (failed) continue;
        let decoded: string | null;
        try {
          decoded = text.finish(bytes);
        } catch (error) {
          assert.ok(error instanceof InvalidPayloadError);
          decoded = null;
        }
        assert.equal(decoded, strictDecode(bytes), `${label} in ${size}`);
      }
    }
    assert.ok(compared > 10_000);
  });

  test("the issue's example fails at the 0x90 of f4 90 80 80", () => {
    const bytes = new Uint8Array([0xce, 0xba, 0xf4, 0x90, 0x80, 0x80, 0x65]);
    const text = new Utf8PrefixDecoder();
    text.check(bytes.subarray(0, 3));
    assert.throws(() => text.check(bytes.subarray(0, 4)), InvalidPayloadError);
  });

  test("a real U+FFFD is accepted", () => {
    const bytes = new TextEncoder().encode("a\ufffdb\ufffd");
    const text = new Utf8PrefixDecoder();
    text.check(bytes.subarray(0, 3));
    assert.equal(text.finish(bytes), "a\ufffdb\ufffd");
  });
});
