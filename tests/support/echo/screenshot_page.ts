/**
 * Writes a PNG of the echo page after a short exchange, so a person can see
 * what the page shows without running a browser by hand:
 *
 * ```sh
 * deno task screenshot:page /tmp/echo-page.png
 * ```
 *
 * Starts the echo server in process on 127.0.0.1 (a free port), opens the
 * page in headless Chromium (compression agreed), sends a text message (the
 * browser compresses it, the server echoes it as it is), a 1,800-byte text
 * (compressed both ways), 200 random bytes (a 16-bit length; the server does
 * not compress them) and `ping:hi`, then takes a full-page screenshot. Both
 * the browser and the server are always shut down.
 *
 * @module
 */

import { startEchoServer } from "../../../examples/echo/server.ts";
import {
  screenshotMain,
  withChromium,
} from "../../interop/browser/screenshot.ts";
import { withDeadline } from "../../interop/peers/bounded.ts";
import {
  openEchoPage,
  sendBinaryFromPage,
  sendTextFromPage,
} from "./page_driver.ts";

/** The browser window's size in CSS pixels. */
export const SCREENSHOT_VIEWPORT = { width: 1280, height: 900 };

/** How long the whole run may take. */
export const SCREENSHOT_TIMEOUT_MS = 90_000;

/**
 * Runs the exchange and writes the screenshot.
 *
 * @param target the PNG file to write
 */
export async function screenshotEchoPage(target: string): Promise<void> {
  const server = await startEchoServer({
    hostname: "127.0.0.1",
    port: 0,
    log: false,
  });
  try {
    await withChromium(async ({ page }) => {
      await page.setViewportSize(SCREENSHOT_VIEWPORT);
      await openEchoPage(page, server.url);
      await sendTextFromPage(page, "Hello, WebSocket!");
      await sendTextFromPage(page, "Hello, WebSocket! ".repeat(100));
      await sendBinaryFromPage(page, 200);
      await sendTextFromPage(page, "ping:hi");
      // The side panel is sticky: scroll up so it sits at the top.
      await page.evaluate(() =>
        (globalThis as unknown as { scrollTo(x: number, y: number): void })
          .scrollTo(0, 0)
      );
      await page.screenshot({ path: target, fullPage: true });
    });
  } finally {
    await withDeadline(server.shutdown(), 15_000, "echo server shutdown");
  }
}

if (import.meta.main) {
  await screenshotMain(
    "screenshot:page",
    screenshotEchoPage,
    SCREENSHOT_TIMEOUT_MS,
  );
}
