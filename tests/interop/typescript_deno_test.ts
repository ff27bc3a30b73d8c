// The pure, socket and node:net entries type-check outside Deno: the npm
// `typescript` compiler, with Node's types and the DOM library and no Deno
// types, checks tests/types/consumer.ts and everything it imports.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runBounded } from "./peers/bounded.ts";

const TSC = fileURLToPath(
  new URL("../../node_modules/.bin/tsc", import.meta.url),
);
const PROJECT = fileURLToPath(
  new URL("../types/tsconfig.json", import.meta.url),
);

test("tsc --noEmit reports no error for a program using ./codec, ./socket and ./node", async () => {
  const result = await runBounded(TSC, ["--noEmit", "-p", PROJECT], 120_000);
  assert.equal(result.timedOut, false, "tsc took more than 2 minutes");
  assert.equal(result.stdout + result.stderr, "");
  assert.equal(result.code, 0);
});
