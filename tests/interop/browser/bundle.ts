/**
 * Bundles a TypeScript entry point into one browser ES module with
 * `deno bundle` (esbuild, fetched from npm on first use).
 *
 * @module
 */

import { runBounded } from "../peers/bounded.ts";

/** How long bundling may take. */
export const BUNDLE_TIMEOUT_MS = 60_000;

/**
 * Bundles `entry` for the browser and returns the JavaScript.
 *
 * @param entry path of the entry module
 * @returns the bundled ES module source
 */
export async function bundleForBrowser(entry: string): Promise<string> {
  const outDir = await Deno.makeTempDir({ prefix: "rfc6455-bundle-" });
  try {
    const outFile = `${outDir}/bundle.js`;
    const result = await runBounded(
      Deno.execPath(),
      [
        "bundle",
        "--quiet",
        "--platform=browser",
        "--format=esm",
        "--output",
        outFile,
        entry,
      ],
      BUNDLE_TIMEOUT_MS,
      { NO_COLOR: "1" },
    );
    if (result.code !== 0) {
      throw new Error(
        `deno bundle failed (exit ${result.code}${
          result.timedOut ? ", timed out" : ""
        }):\n${result.stderr}${result.stdout}`,
      );
    }
    return await Deno.readTextFile(outFile);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}
