/**
 * Runs an interop peer script and returns its report: as a subprocess (Bun,
 * Deno, Node.js, Python), or inside a headless Chromium page. Every peer
 * prints, or returns, one JSON object `{ peer, results: { <check>: observed } }`;
 * what is right is decided by the test, not here. Deno only.
 *
 * @module
 */

import { basename, dirname } from "node:path";
import { runBounded, runsSuccessfully, withDeadline } from "./bounded.ts";
import { launchChromium } from "../browser/chromium.ts";

/** What a peer script reports. */
export interface PeerReport {
  /** The peer's name and version. */
  peer: string;
  /** What each check observed, or `{ error }`. */
  results: Record<string, Record<string, unknown>>;
}

/**
 * Runs a peer script as a subprocess, bounded in time, and parses the JSON
 * object on the last line of its stdout.
 *
 * @param program the executable (bun, node, a python, Deno.execPath())
 * @param args its arguments: the script, then the script's own
 * @param milliseconds how long it may run before it is killed
 * @param env extra environment variables for it
 * @returns the report
 * @throws Error with the tail of its output when it failed or printed no report
 */
export async function runPeerProcess(
  program: string,
  args: string[],
  milliseconds: number,
  env: Record<string, string> = {},
): Promise<PeerReport> {
  const result = await runBounded(program, args, milliseconds, env);
  const lines = result.stdout.trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  if (result.code !== 0 || !last.startsWith("{")) {
    throw new Error(
      `${program} exited with ${result.code}${
        result.timedOut ? " (killed at the deadline)" : ""
      }\nstdout: ${result.stdout.slice(-2000)}\nstderr: ${
        result.stderr.slice(-2000)
      }`,
    );
  }
  return JSON.parse(last) as PeerReport;
}

/**
 * The first python that can import `websockets`: `$PYTHON`, then
 * /usr/bin/python3, then python3 on PATH.
 *
 * @returns its path or name, or null when there is none
 */
export async function findPython(): Promise<string | null> {
  const candidates = [Deno.env.get("PYTHON"), "/usr/bin/python3", "python3"];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    if (await runsSuccessfully(candidate, ["-c", "import websockets"])) {
      return candidate;
    }
  }
  return null;
}

/** Content types of the files a peer page may load. */
const SCRIPT_TYPES: ReadonlyMap<string, string> = new Map([
  [".js", "text/javascript; charset=utf-8"],
  [".mjs", "text/javascript; charset=utf-8"],
]);

/** The extension of `name` (from its last dot), or "". */
function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot === -1 ? "" : name.slice(dot);
}

/**
 * Serves a blank page and the scripts of one folder (by exact file name,
 * no subfolders) on 127.0.0.1, so a peer script loaded in Chromium can
 * import its siblings.
 */
async function servePeerScripts(
  folder: string,
): Promise<{ origin: string; close(): Promise<void> }> {
  const scripts = new Set<string>();
  for await (const entry of Deno.readDir(folder)) {
    if (entry.isFile && SCRIPT_TYPES.has(extensionOf(entry.name))) {
      scripts.add(entry.name);
    }
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const name = new URL(request.url).pathname.slice(1);
      if (name === "") {
        return new Response("<!doctype html><title>peer</title>", {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      }
      if (!scripts.has(name)) return new Response("", { status: 404 });
      return new Response(await Deno.readFile(`${folder}/${name}`), {
        headers: { "content-type": SCRIPT_TYPES.get(extensionOf(name))! },
      });
    },
  );
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    close: () => withDeadline(server.shutdown(), 15_000, "the script server"),
  };
}

/**
 * Runs a peer script inside a headless Chromium page: loads it as a module
 * (served over HTTP from its folder, so it may import its siblings), waits
 * for it to define `globalThis[entry]`, and calls that with `args`.
 *
 * @param script the path of the peer script
 * @param entry the global function the script defines
 * @param args the arguments, passed to the page as JSON
 * @param milliseconds how long the call may take
 * @returns the report, with Chromium's version as the peer
 */
export async function runPeerInChromium(
  script: string,
  entry: string,
  args: readonly unknown[],
  milliseconds: number,
): Promise<PeerReport> {
  const scripts = await servePeerScripts(dirname(script));
  try {
    const session = await launchChromium();
    try {
      const { page } = session;
      await page.goto(`${scripts.origin}/`);
      await page.addScriptTag({
        url: `${scripts.origin}/${basename(script)}`,
        type: "module",
      });
      await page.waitForFunction(
        (name) =>
          typeof (globalThis as Record<string, unknown>)[name] === "function",
        entry,
        { timeout: 10_000 },
      );
      const results = await withDeadline(
        page.evaluate(
          ({ entry, args }) =>
            (globalThis as unknown as Record<
              string,
              (...args: unknown[]) => Promise<PeerReport["results"]>
            >)[entry](...args),
          { entry, args: [...args] },
        ),
        milliseconds,
        "the Chromium peer",
      );
      const version = page.context().browser()?.version() ??
        await page.evaluate(() => navigator.userAgent);
      return { peer: `chromium ${version}`, results };
    } finally {
      await session.close();
    }
  } finally {
    await scripts.close();
  }
}
