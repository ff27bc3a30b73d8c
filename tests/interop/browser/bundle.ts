/**
 * Bundles a TypeScript entry point into one browser ES module, with
 * `deno bundle` or with the npm `esbuild` (a dev dependency), each told the
 * platform is the browser: a `node:` import or a reference to a Node
 * builtin fails the bundle.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { runBounded } from "../peers/bounded.ts";

/** The bundlers the browser check runs. */
export const BUNDLERS = ["deno bundle", "esbuild"] as const;

/** One of {@linkcode BUNDLERS}. */
export type Bundler = (typeof BUNDLERS)[number];

const ESBUILD = fileURLToPath(
  new URL("../../../node_modules/.bin/esbuild", import.meta.url),
);

/** How long bundling may take. */
export const BUNDLE_TIMEOUT_MS = 60_000;

/**
 * Bundles `entry` for the browser and returns the JavaScript.
 *
 * @param entry path of the entry module
 * @param bundler which bundler
 * @returns the bundled ES module source
 */
export async function bundleForBrowser(
  entry: string,
  bundler: Bundler,
): Promise<string> {
  const outDir = await Deno.makeTempDir({ prefix: "rfc6455-bundle-" });
  try {
    const outFile = `${outDir}/bundle.js`;
    const [command, args] = bundler === "esbuild"
      ? [ESBUILD, [
        entry,
        "--bundle",
        "--platform=browser",
        "--format=esm",
        "--log-level=warning",
        `--outfile=${outFile}`,
      ]]
      : [Deno.execPath(), [
        "bundle",
        "--quiet",
        "--platform=browser",
        "--format=esm",
        "--output",
        outFile,
        entry,
      ]];
    const result = await runBounded(command, args, BUNDLE_TIMEOUT_MS, {
      NO_COLOR: "1",
    });
    if (result.code !== 0) {
      throw new Error(
        `${bundler} failed (exit ${result.code}${
          result.timedOut ? ", timed out" : ""
        }):\n${result.stderr}${result.stdout}`,
      );
    }
    return await Deno.readTextFile(outFile);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}
