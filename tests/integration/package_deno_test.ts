// What `deno publish` would upload: the entries, the layer folders, the
// README and the license; never a demo, a test, a benchmark or CI file.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runBounded } from "../interop/peers/bounded.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("deno publish --dry-run lists library files only", async () => {
  const result = await runBounded(
    Deno.execPath(),
    ["publish", "--dry-run", "--allow-dirty"],
    120_000,
    { NO_COLOR: "1" },
    ROOT,
  );
  assert.equal(result.code, 0, result.stderr);
  const prefix = `file://${ROOT}`;
  const listed = (result.stdout + result.stderr).split("\n")
    .map((line) => line.trim().split(" ")[0])
    .filter((word) => word.startsWith(prefix))
    .map((word) => word.slice(prefix.length));
  assert.ok(listed.includes("mod.ts"), "mod.ts is published");
  assert.ok(listed.includes("codec.ts"), "codec.ts is published");
  for (const path of listed) {
    assert.doesNotMatch(path, /^(examples|tests|bench|\.ci|docs)\//, path);
    assert.doesNotMatch(path, /_test\.ts$/, path);
  }
});
