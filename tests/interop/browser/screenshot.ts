/**
 * What the screenshot scripts (tests/echo/screenshot_page.ts, and any page
 * like it) share: a Chromium session that is always closed and fails when a
 * page script threw, and the command-line entry that takes the PNG path.
 *
 * @module
 */

import { type BrowserSession, launchChromium } from "./chromium.ts";
import { withDeadline } from "../peers/bounded.ts";

/**
 * Launches headless Chromium, runs `work` with it, then fails if any page
 * threw an uncaught error. The browser is closed whatever happens.
 *
 * @param work what to do with the session
 * @returns what `work` returned
 */
export async function withChromium<T>(
  work: (session: BrowserSession) => Promise<T>,
): Promise<T> {
  const session = await launchChromium();
  try {
    const result = await work(session);
    if (session.pageErrors.length > 0) {
      throw new Error(`the page threw: ${session.pageErrors.join("; ")}`);
    }
    return result;
  } finally {
    await session.close();
  }
}

/**
 * The command-line entry of a screenshot script: reads the PNG path from
 * the first argument (exits 2 with a usage line naming `task` without it),
 * runs `take` within `milliseconds`, and says where it wrote.
 *
 * @param task the deno task that runs the script, for the usage line
 * @param take writes the screenshot to the given path
 * @param milliseconds how long the whole run may take
 */
export async function screenshotMain(
  task: string,
  take: (target: string) => Promise<void>,
  milliseconds: number,
): Promise<void> {
  const target = Deno.args[0];
  if (target === undefined) {
    console.error(`usage: deno task ${task} <file.png>`);
    Deno.exit(2);
  }
  await withDeadline(take(target), milliseconds, "taking the screenshot");
  console.log(`wrote ${target}`);
}
