/**
 * Groups 3 to 5: the building blocks on their own.
 *
 * - unmasking in place (`applyMask` vs `ws`'s `unmask`, JS and native);
 * - UTF-8: validation only (`isValidUtf8`, `Utf8Validator` vs `ws`'s
 *   `isValidUTF8`), and validation + decoding to a string (`decodeUtf8` vs
 *   `isValidUTF8` + `Buffer#toString`, what a `ws` user does with a text
 *   message);
 * - the `Sec-WebSocket-Accept` key (`computeAcceptKey`, Web Crypto, async vs
 *   `node:crypto` `createHash("sha1")`, as `ws`'s server does).
 *
 * Each group ends with the copy ceiling where one makes sense.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { applyMask } from "../frame/mask.ts";
import { computeAcceptKey, WEBSOCKET_GUID } from "../handshake.ts";
import { decodeUtf8, isValidUtf8, Utf8Validator } from "../frame/utf8.ts";
import type { BenchCase } from "./bench_case.ts";
import { buildText, sameBytes, sink, sizeLabel, Xorshift } from "./fixtures.ts";
import { asBuffer, type WsVariant } from "./ws_loader.ts";

/** Payload sizes of the unmasking benchmarks. */
export const UNMASK_SIZES: readonly number[] = [64 * 1024, 1024 * 1024];

/** Text sizes of the UTF-8 benchmarks. */
export const UTF8_SIZES: readonly number[] = [125, 1024, 64 * 1024];

function unmaskCases(
  wsVariants: readonly WsVariant[],
  size: number,
): BenchCase[] {
  const random = new Xorshift(size + 7);
  const original = random.bytes(size);
  const key = random.maskKey();
  const keyBuffer = asBuffer(key.slice());

  // Both sides must compute the same thing.
  const ours = original.slice();
  applyMask(ours, key);
  for (const ws of wsVariants) {
    const theirs = asBuffer(original.slice());
    ws.unmask(theirs, keyBuffer);
    if (!sameBytes(ours, theirs)) {
      throw new Error(`${ws.label} unmask and applyMask disagree`);
    }
  }

  const common = {
    group: `unmask ${sizeLabel(size)} in place`,
    messagesPerCall: 1,
    bytesPerCall: size,
  };
  const cases: BenchCase[] = wsVariants.map((ws, index) => {
    const data = asBuffer(original.slice());
    return {
      ...common,
      name: `${ws.label} unmask`,
      side: "ws",
      baseline: index === 0,
      fn: () => ws.unmask(data, keyBuffer),
    };
  });
  const data = original.slice();
  const target = new Uint8Array(size);
  cases.push(
    {
      ...common,
      name: "ours applyMask",
      side: "ours",
      fn: () => applyMask(data, key),
    },
    {
      ...common,
      name: "ceiling: Uint8Array.set of the same bytes",
      side: "ceiling",
      fn: () => target.set(data),
    },
  );
  return cases;
}

function utf8Cases(
  wsVariants: readonly WsVariant[],
  size: number,
  kind: "ascii" | "mixed",
): BenchCase[] {
  const bytes = new TextEncoder().encode(buildText(size, kind));
  const buffer = asBuffer(bytes.slice());
  const validator = new Utf8Validator();
  const validateCommon = {
    group: `UTF-8 validate ${sizeLabel(size)} ${kind}`,
    messagesPerCall: 1,
    bytesPerCall: size,
  };
  const expectValid = (name: string, valid: boolean): void => {
    if (!valid) throw new Error(`${name} rejected valid UTF-8`);
  };
  const cases: BenchCase[] = wsVariants.map((ws, index) => ({
    ...validateCommon,
    name: `${ws.label} isValidUTF8`,
    side: "ws",
    baseline: index === 0,
    fn: () => expectValid(ws.label, ws.isValidUTF8(buffer)),
  }));
  cases.push(
    {
      ...validateCommon,
      name: "ours isValidUtf8",
      side: "ours",
      fn: () => expectValid("isValidUtf8", isValidUtf8(bytes)),
    },
    {
      ...validateCommon,
      name: "ours Utf8Validator push + finish (reused)",
      side: "ours",
      fn: () => {
        validator.reset();
        expectValid("Utf8Validator", validator.push(bytes));
        expectValid("Utf8Validator", validator.finish());
      },
    },
  );

  const decodeCommon = {
    group: `UTF-8 validate + decode ${sizeLabel(size)} ${kind}`,
    messagesPerCall: 1,
    bytesPerCall: size,
  };
  const ws = wsVariants[0];
  cases.push(
    {
      ...decodeCommon,
      name: `${ws.label} isValidUTF8 + Buffer#toString`,
      side: "ws",
      baseline: true,
      fn: () => {
        expectValid(ws.label, ws.isValidUTF8(buffer));
        sink.value = buffer.toString("utf8");
      },
    },
    {
      ...decodeCommon,
      name: "ours decodeUtf8 (fatal TextDecoder)",
      side: "ours",
      fn: () => {
        sink.value = decodeUtf8(bytes);
      },
    },
  );
  return cases;
}

function acceptKeyCases(): BenchCase[] {
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  const common = {
    group: "Sec-WebSocket-Accept",
    messagesPerCall: 1,
    bytesPerCall: key.length,
  };
  const expected = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
  return [
    {
      ...common,
      name: "node:crypto createHash sha1 (as ws)",
      side: "ws",
      baseline: true,
      fn: () => {
        const accept = createHash("sha1").update(key + WEBSOCKET_GUID)
          .digest("base64");
        if (accept !== expected) throw new Error("createHash: wrong key");
      },
    },
    {
      ...common,
      name: "ours computeAcceptKey (crypto.subtle, async)",
      side: "ours",
      fn: async () => {
        const accept = await computeAcceptKey(key);
        if (accept !== expected) throw new Error("computeAcceptKey: wrong key");
      },
    },
  ];
}

/** Unmasking, UTF-8 and accept-key cases; the first `ws` is the baseline. */
export function primitiveCases(wsVariants: readonly WsVariant[]): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const size of UNMASK_SIZES) cases.push(...unmaskCases(wsVariants, size));
  for (const kind of ["ascii", "mixed"] as const) {
    for (const size of UTF8_SIZES) {
      cases.push(...utf8Cases(wsVariants, size, kind));
    }
  }
  cases.push(...acceptKeyCases());
  return cases;
}
