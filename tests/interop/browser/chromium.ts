/**
 * Starts Debian's headless Chromium through `playwright-core` (which runs
 * under Deno) with a fresh profile directory, and tears both down again.
 *
 * @module
 */

import { chromium, type Page } from "playwright-core";
import { fileExists, withDeadline } from "../peers/bounded.ts";

/** Where Chromium is looked for; `CHROMIUM_PATH` overrides it. */
export const CHROMIUM_PATH: string = Deno.env.get("CHROMIUM_PATH") ??
  "/usr/bin/chromium";

/** Flags that keep Chromium quiet, offline and usable as root in CI. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** How long a launch may take before the test gives up. */
export const LAUNCH_TIMEOUT_MS = 30_000;

/** A running browser with one page. */
export interface BrowserSession {
  /** The page to drive. */
  page: Page;
  /** Errors thrown by page scripts so far (uncaught ones). */
  pageErrors: string[];
  /** Closes the browser and removes its profile directory. */
  close(): Promise<void>;
}

/** Whether the Chromium executable is installed. */
export function chromiumInstalled(): Promise<boolean> {
  return fileExists(CHROMIUM_PATH);
}

/**
 * Launches headless Chromium with a fresh temporary profile.
 *
 * @returns the session; always call `close`
 */
export async function launchChromium(): Promise<BrowserSession> {
  const profile = await Deno.makeTempDir({ prefix: "rfc6455-chromium-" });
  let context;
  try {
    context = await withDeadline(
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: [...CHROMIUM_ARGS],
        timeout: LAUNCH_TIMEOUT_MS,
      }),
      LAUNCH_TIMEOUT_MS + 5_000,
      "launching Chromium",
    );
  } catch (error) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw error;
  }
  const launched = context;
  const page = launched.pages()[0] ?? await launched.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  return {
    page,
    pageErrors,
    async close(): Promise<void> {
      try {
        await withDeadline(launched.close(), 15_000, "closing Chromium");
      } finally {
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      }
    },
  };
}
