/**
 * Writes a PNG of the chat page after a short exchange, so a person can see
 * what the page shows without running a browser by hand:
 *
 * ```sh
 * deno task screenshot:chat /tmp/chat.png
 * ```
 *
 * Starts the chat server in process on 127.0.0.1 (a free port), opens two
 * pages in headless Chromium, joins "Alice" and "Bob" to the same room,
 * exchanges a few messages (one of them HTML, which must show as text),
 * then screenshots Alice's page. The browser and the server are always shut
 * down.
 *
 * @module
 */

import { startChatServer } from "../../../examples/chat/server.ts";
import { launchChromium } from "../../interop/browser/chromium.ts";
import { withDeadline } from "../../interop/peers/bounded.ts";
import {
  joinFromPage,
  openChatPage,
  sendFromPage,
  waitForMembers,
  waitForMessages,
} from "./page_driver.ts";

/** The browser window's size in CSS pixels. */
export const SCREENSHOT_VIEWPORT = { width: 1100, height: 680 };

/** How long the whole run may take. */
export const SCREENSHOT_TIMEOUT_MS = 90_000;

/**
 * Runs the exchange and writes the screenshot.
 *
 * @param target the PNG file to write
 */
export async function screenshotChat(target: string): Promise<void> {
  const chat = await startChatServer({
    hostname: "127.0.0.1",
    port: 0,
    log: false,
  });
  try {
    const session = await launchChromium();
    try {
      const alice = session.page;
      const bob = await alice.context().newPage();
      const carol = await alice.context().newPage();
      for (const page of [alice, bob, carol]) {
        await page.setViewportSize(SCREENSHOT_VIEWPORT);
        await openChatPage(page, chat.url);
      }
      await joinFromPage(alice, "Alice", "lobby");
      await joinFromPage(bob, "Bob", "lobby");
      await joinFromPage(carol, "Carol", "lobby");
      await waitForMembers(alice, ["Alice", "Bob", "Carol"]);
      await sendFromPage(alice, "Hi Bob! Did the pub/sub change land?");
      await sendFromPage(
        bob,
        "It did: one frame encoded once, queued to every socket in the room.",
      );
      await sendFromPage(alice, "Nice. Does the page escape HTML?");
      await sendFromPage(bob, "<img src=x onerror=alert(1)> shows as text.");
      await carol.close();
      await waitForMembers(alice, ["Alice", "Bob"]);
      await waitForMessages(alice, 4);
      await alice.screenshot({ path: target });
      if (session.pageErrors.length > 0) {
        throw new Error(`the page threw: ${session.pageErrors.join("; ")}`);
      }
    } finally {
      await session.close();
    }
  } finally {
    await withDeadline(chat.shutdown(), 15_000, "chat server shutdown");
  }
}

if (import.meta.main) {
  const target = Deno.args[0];
  if (target === undefined) {
    console.error("usage: deno task screenshot:chat <file.png>");
    Deno.exit(2);
  }
  await withDeadline(
    screenshotChat(target),
    SCREENSHOT_TIMEOUT_MS,
    "taking the screenshot",
  );
  console.log(`wrote ${target}`);
}
