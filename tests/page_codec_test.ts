// page_codec.ts: the frame arithmetic the echo page shows. Expected bytes
// are written out from RFC 6455 (section 5.7 examples and the section 5.2
// layout), never computed by the code under test; masking is checked by
// XORing here.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  clientFrame,
  closePayload,
  DEFAULT_PREVIEW_BYTES,
  describeFrame,
  Opcode,
  opcodeName,
  serverFrame,
  toBits,
  toHex,
} from "../page_codec.ts";

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
