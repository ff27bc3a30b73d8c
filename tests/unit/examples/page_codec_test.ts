// page_codec.ts: the frame arithmetic the echo page shows. Expected bytes
// are written out from RFC 6455 (section 5.7 examples and the section 5.2
// layout) and RFC 7692, never computed by the code under test; masking is
// checked by XORing here and compressed payloads by inflating them with
// node:zlib, as a zlib-based receiver (Chromium, ws) does.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inflateRawSync } from "node:zlib";
import {
  agreedPerMessageDeflate,
  clientFrame,
  clientMessageFrame,
  closePayload,
  DEFAULT_PREVIEW_BYTES,
  describeFrame,
  Opcode,
  opcodeName,
  serverFrame,
  serverMessageFrame,
  toBits,
  toHex,
} from "../../../examples/echo/page_codec.ts";

const HELLO = [0x48, 0x65, 0x6c, 0x6c, 0x6f];

/** RFC 6455 5.7: a masked "Hello" with key 37 fa 21 3d. */
const MASKED_HELLO = [
  0x81,
  0x85,
  0x37,
  0xfa,
  0x21,
  0x3d,
  0x7f,
  0x9f,
  0x4d,
  0x51,
  0x58,
];

function frameWithHeader(header: number[], payloadLength: number): Uint8Array {
  const frame = new Uint8Array(header.length + payloadLength);
  frame.set(header);
  for (let index = 0; index < payloadLength; index++) {
    frame[header.length + index] = index & 0xff;
  }
  return frame;
}

describe("describeFrame", () => {
  test("lays out the masked 'Hello' of RFC 6455 section 5.7", () => {
    const wire = new Uint8Array(MASKED_HELLO);
    const view = describeFrame(wire);
    assert.equal(view.frameLength, 11);
    assert.deepEqual([...view.header], MASKED_HELLO.slice(0, 6));
    assert.equal(view.fin, true);
    assert.deepEqual([view.rsv1, view.rsv2, view.rsv3], [false, false, false]);
    assert.equal(view.opcode, 0x1);
    assert.equal(view.opcodeName, "text");
    assert.equal(view.masked, true);
    assert.equal(view.lengthField, 5);
    assert.equal(view.lengthEncoding, "7-bit");
    assert.deepEqual([...view.extendedLength], []);
    assert.equal(view.payloadLength, 5);
    assert.deepEqual([...(view.maskingKey ?? [])], [0x37, 0xfa, 0x21, 0x3d]);
    assert.deepEqual([...view.wirePayload], [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert.deepEqual([...view.payload], HELLO);
    assert.equal(view.omittedBytes, 0);
    assert.deepEqual([...wire], MASKED_HELLO, "the input is not modified");
  });

  test("lays out an unmasked ping and a fragment with FIN clear", () => {
    const ping = describeFrame(new Uint8Array([0x89, 0x05, ...HELLO]));
    assert.equal(ping.opcodeName, "ping");
    assert.equal(ping.masked, false);
    assert.equal(ping.maskingKey, null);
    assert.deepEqual([...ping.wirePayload], HELLO);
    assert.deepEqual([...ping.payload], HELLO);
    const first = describeFrame(new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c]));
    assert.equal(first.fin, false);
    assert.equal(first.opcodeName, "text");
    const last = describeFrame(new Uint8Array([0x80, 0x02, 0x6c, 0x6f]));
    assert.equal(last.fin, true);
    assert.equal(last.opcodeName, "continuation");
  });

  test("reports the 16-bit length of a 256-byte binary frame", () => {
    const view = describeFrame(frameWithHeader([0x82, 0x7e, 0x01, 0x00], 256));
    assert.equal(view.lengthField, 126);
    assert.equal(view.lengthEncoding, "16-bit");
    assert.deepEqual([...view.extendedLength], [0x01, 0x00]);
    assert.equal(view.payloadLength, 256);
    assert.equal(view.payload.length, DEFAULT_PREVIEW_BYTES);
    assert.equal(view.omittedBytes, 256 - DEFAULT_PREVIEW_BYTES);
    assert.equal(view.payload[63], 63);
  });

  test("reports the 64-bit length of a 64 KiB binary frame", () => {
    const header = [0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    const view = describeFrame(frameWithHeader(header, 65536), 8);
    assert.equal(view.lengthField, 127);
    assert.equal(view.lengthEncoding, "64-bit");
    assert.deepEqual([...view.extendedLength], header.slice(2));
    assert.equal(view.payloadLength, 65536);
    assert.deepEqual([...view.payload], [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(view.omittedBytes, 65536 - 8);
  });

  test("shows RSV bits instead of refusing them, and names reserved opcodes", () => {
    const view = describeFrame(new Uint8Array([0xf1, 0x00]));
    assert.deepEqual([view.rsv1, view.rsv2, view.rsv3], [true, true, true]);
    const rsv2 = describeFrame(new Uint8Array([0xa2, 0x00]));
    assert.deepEqual([rsv2.rsv1, rsv2.rsv2, rsv2.rsv3], [false, true, false]);
    assert.equal(opcodeName(0x3), "reserved (data)");
    assert.equal(opcodeName(0xb), "reserved (control)");
  });

  test("refuses bytes that are not exactly one frame", () => {
    assert.throws(() => describeFrame(new Uint8Array([0x81, 0x05, 0x48])));
    assert.throws(() =>
      describeFrame(new Uint8Array([0x81, 0x01, 0x48, 0x81, 0x01, 0x49]))
    );
  });
});

describe("clientFrame and serverFrame", () => {
  test("a client frame is masked with a fresh 4-byte key", () => {
    const payload = new Uint8Array(HELLO);
    const first = clientFrame(Opcode.Text, payload);
    const second = clientFrame(Opcode.Text, payload);
    assert.equal(first[0], 0x81);
    assert.equal(first[1], 0x80 | 5);
    assert.equal(first.length, 2 + 4 + 5);
    const key = first.subarray(2, 6);
    for (let index = 0; index < 5; index++) {
      assert.equal(first[6 + index] ^ key[index % 4], HELLO[index]);
    }
    assert.notDeepEqual([...key], [...second.subarray(2, 6)]);
    assert.deepEqual([...payload], HELLO, "the payload is not modified");
  });

  test("a server frame is not masked", () => {
    assert.deepEqual(
      [...serverFrame(Opcode.Binary, new Uint8Array([1, 2, 3]))],
      [0x82, 0x03, 1, 2, 3],
    );
  });
});

describe("closePayload and formatting", () => {
  test("a close payload is the code big-endian, then the UTF-8 reason", () => {
    assert.deepEqual([...closePayload(1000, "ok")], [0x03, 0xe8, 0x6f, 0x6b]);
    assert.deepEqual([...closePayload(4001, "\u2603")], [
      0x0f,
      0xa1,
      0xe2,
      0x98,
      0x83,
    ]);
    assert.deepEqual([...closePayload(undefined, "ignored")], []);
  });

  test("hex and bits", () => {
    assert.equal(toHex(new Uint8Array([0x81, 0x05, 0x0a])), "81 05 0a");
    assert.equal(toHex(new Uint8Array(0)), "");
    assert.equal(toBits(0x81), "1000 0001");
    assert.equal(toBits(0x05), "0000 0101");
  });
});

/** Header length of an unmasked (2) or masked (6) frame under 126 bytes,
 * or with the 16-bit length (4 or 8). */
function headerLength(frame: Uint8Array): number {
  const lengthField = frame[1] & 0x7f;
  const extended = lengthField === 126 ? 2 : lengthField === 127 ? 8 : 0;
  return 2 + extended + ((frame[1] & 0x80) !== 0 ? 4 : 0);
}

/** The payload of one frame, unmasked here by XOR with its key. */
function unmaskedPayload(frame: Uint8Array): Uint8Array {
  const start = headerLength(frame);
  const payload = frame.slice(start);
  if ((frame[1] & 0x80) !== 0) {
    const key = frame.subarray(start - 4, start);
    for (let index = 0; index < payload.length; index++) {
      payload[index] ^= key[index % 4];
    }
  }
  return payload;
}

/** RFC 7692 7.2.2: append 00 00 ff ff and inflate (raw DEFLATE). */
function zlibInflate(payload: Uint8Array): Uint8Array {
  const withTail = new Uint8Array(payload.length + 4);
  withTail.set(payload);
  withTail.set([0x00, 0x00, 0xff, 0xff], payload.length);
  return new Uint8Array(inflateRawSync(withTail));
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  crypto.getRandomValues(bytes);
  return bytes;
}

const REPEATED = new TextEncoder().encode("Hello, WebSocket! ".repeat(100));

describe("agreedPerMessageDeflate", () => {
  test("finds the extension by name, whatever its parameters", () => {
    assert.equal(
      agreedPerMessageDeflate(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      ),
      true,
    );
    assert.equal(agreedPerMessageDeflate("Permessage-Deflate"), true);
    assert.equal(agreedPerMessageDeflate("x-other, permessage-deflate"), true);
    assert.equal(agreedPerMessageDeflate(""), false);
    assert.equal(agreedPerMessageDeflate("x-permessage-deflate"), false);
    assert.equal(agreedPerMessageDeflate("x; permessage-deflate"), false);
  });
});

describe("clientMessageFrame", () => {
  test("compresses even a short text when deflate is agreed: RSV1, masked DEFLATE", async () => {
    const hello = new Uint8Array(HELLO);
    const rebuilt = await clientMessageFrame(Opcode.Text, hello, true);
    assert.equal(rebuilt.compression, "compressed");
    assert.equal(rebuilt.wire[0], 0xc1, "FIN, RSV1, text");
    assert.equal(rebuilt.wire[1] & 0x80, 0x80, "masked");
    assert.deepEqual([...zlibInflate(unmaskedPayload(rebuilt.wire))], HELLO);
    assert.deepEqual([...rebuilt.message], HELLO);
    assert.deepEqual([...hello], HELLO, "the message is not modified");
  });

  test("an empty message is the single byte 00 (RFC 7692 7.2.3.6)", async () => {
    const rebuilt = await clientMessageFrame(
      Opcode.Binary,
      new Uint8Array(0),
      true,
    );
    assert.equal(rebuilt.wire[0], 0xc2);
    assert.deepEqual([...unmaskedPayload(rebuilt.wire)], [0x00]);
    assert.deepEqual([...rebuilt.message], []);
  });

  test("compresses random bytes too, though they grow", async () => {
    const random = randomBytes(300);
    const rebuilt = await clientMessageFrame(Opcode.Binary, random, true);
    assert.equal(rebuilt.wire[0], 0xc2);
    const payload = unmaskedPayload(rebuilt.wire);
    assert.ok(payload.length > 300, `${payload.length} bytes`);
    assert.deepEqual(zlibInflate(payload), random);
    assert.deepEqual(rebuilt.message, random);
  });

  test("without deflate the message goes as it is, masked", async () => {
    const rebuilt = await clientMessageFrame(
      Opcode.Text,
      new Uint8Array(HELLO),
      false,
    );
    assert.equal(rebuilt.compression, "not-agreed");
    assert.equal(rebuilt.wire[0], 0x81);
    assert.equal(rebuilt.wire[1], 0x80 | 5);
    assert.deepEqual([...unmaskedPayload(rebuilt.wire)], HELLO);
    assert.deepEqual([...rebuilt.message], HELLO);
  });
});

describe("serverMessageFrame", () => {
  test("compresses a message at or above the threshold that shrinks", async () => {
    const rebuilt = await serverMessageFrame(Opcode.Text, REPEATED, true);
    assert.equal(rebuilt.compression, "compressed");
    assert.equal(rebuilt.wire[0], 0xc1);
    assert.equal(rebuilt.wire[1] & 0x80, 0, "not masked");
    const payload = unmaskedPayload(rebuilt.wire);
    assert.ok(payload.length < REPEATED.length / 10, `${payload.length} B`);
    assert.deepEqual(zlibInflate(payload), REPEATED);
    assert.deepEqual(rebuilt.message, REPEATED);
  });

  test("sends a message below the threshold as it is", async () => {
    const short = REPEATED.subarray(0, 31);
    const rebuilt = await serverMessageFrame(Opcode.Text, short, true);
    assert.equal(rebuilt.compression, "below-threshold");
    assert.deepEqual([...rebuilt.wire.subarray(0, 2)], [0x81, 31]);
    assert.deepEqual(rebuilt.wire.subarray(2), short);
    const exactly = await serverMessageFrame(
      Opcode.Text,
      REPEATED.subarray(0, 32),
      true,
    );
    assert.equal(exactly.compression, "compressed", "32 bytes is enough");
  });

  test("compresses random bytes too: with context takeover a compressed message stays compressed", async () => {
    const random = randomBytes(2000);
    const rebuilt = await serverMessageFrame(Opcode.Binary, random, true);
    assert.equal(rebuilt.compression, "compressed");
    assert.deepEqual(rebuilt.message, random);
  });

  test("follows another threshold, and never compresses without deflate", async () => {
    const small = new TextEncoder().encode("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    const zero = await serverMessageFrame(Opcode.Text, small, true, 0);
    assert.equal(zero.compression, "compressed");
    assert.deepEqual(zlibInflate(unmaskedPayload(zero.wire)), small);
    const off = await serverMessageFrame(Opcode.Text, REPEATED, false);
    assert.equal(off.compression, "not-agreed");
    assert.equal(off.wire[0], 0x81);
    assert.deepEqual(unmaskedPayload(off.wire), REPEATED);
  });
});
