/**
 * Drives the echo page (`static/`) in a Playwright page: open it, wait for
 * the socket to open, send from the forms, wait for the echo, and read the
 * frame cards back as plain data. Shared by `tests/page_deno_test.ts` and
 * the `screenshot:page` task.
 *
 * @module
 */

import type { Page } from "playwright-core";

/** The little of the DOM that the page-side callbacks use (Deno's types
 * have no DOM). */
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  hidden: boolean;
  parentElement: PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement> & {
    length: number;
  };
}

/** How long one step on the page (load, open, echo) may take. */
export const PAGE_STEP_TIMEOUT_MS = 15_000;

/** One frame card as the page shows it. */
export interface ShownFrame {
  /** `"out"` (browser to server) or `"in"` (server to browser). */
  direction: string;
  /** The opcode's name. */
  opcode: string;
  /** The card's one-line summary. */
  summary: string;
  /** The badge text, or "" when there is none. */
  badge: string;
  /** The length encoding the card reports ("7-bit", "16-bit", "64-bit"). */
  lengthEncoding: string;
  /** The value of each field, by its `data-field` name: fin, rsv, opcode,
   * mask, length, key, wire-payload, payload-hex, payload-text, and
   * inflated on a compressed frame. */
  fields: Record<string, string>;
  /** The caption of each byte group in the strip, in order. */
  groups: string[];
  /** The notes under the card, in order. */
  notes: string[];
}

/**
 * Loads the page and waits until its WebSocket is open.
 *
 * @param page the browser page
 * @param url the echo server's page URL
 */
export async function openEchoPage(page: Page, url: string): Promise<void> {
  await page.goto(url, { timeout: PAGE_STEP_TIMEOUT_MS });
  await page.waitForSelector('#status[data-state="open"]', {
    timeout: PAGE_STEP_TIMEOUT_MS,
  });
}

/**
 * Flips the page's "compression" switch to `on` (a no-op when it already
 * is) and waits until the page has reconnected to the path that goes with
 * it: `/` (compression agreed) or `/plain` (declined).
 *
 * @param page the browser page
 * @param on whether compression should be on
 */
export async function setCompressionFromPage(
  page: Page,
  on: boolean,
): Promise<void> {
  if ((await page.isChecked("#compression")) === on) return;
  await page.click("#compression");
  await page.waitForFunction(
    (path) => {
      const document = (globalThis as unknown as { document: PageElement })
        .document;
      const status = document.querySelector("#status");
      const details = document.querySelector("#connection-details");
      return status?.dataset.state === "open" &&
        new URL((details?.textContent ?? "").split(" ")[0]).pathname === path;
    },
    on ? "/" : "/plain",
    { timeout: PAGE_STEP_TIMEOUT_MS },
  );
}

function countIncoming(page: Page): Promise<number> {
  return page.locator('#frames > li.frame[data-direction="in"]').count();
}

async function waitForIncoming(page: Page, before: number): Promise<void> {
  await page.waitForFunction(
    (count) =>
      (globalThis as unknown as { document: PageElement }).document
        .querySelectorAll('#frames > li.frame[data-direction="in"]')
        .length > count,
    before,
    { timeout: PAGE_STEP_TIMEOUT_MS },
  );
}

/**
 * Types `text` into the page's text field, presses Send and waits until a
 * frame arrives from the server.
 *
 * @param page the browser page
 * @param text the message
 */
export async function sendTextFromPage(
  page: Page,
  text: string,
): Promise<void> {
  const before = await countIncoming(page);
  await page.fill("#text-input", text);
  await page.click("#send-text");
  await waitForIncoming(page, before);
}

/**
 * Sends `size` random bytes from the page and waits for the echo.
 *
 * @param page the browser page
 * @param size how many bytes
 */
export async function sendBinaryFromPage(
  page: Page,
  size: number,
): Promise<void> {
  const before = await countIncoming(page);
  await page.fill("#binary-size", String(size));
  await page.click("#send-binary");
  await waitForIncoming(page, before);
}

/**
 * Reads every frame card on the page, oldest first.
 *
 * @param page the browser page
 * @returns what each card shows
 */
export function readShownFrames(page: Page): Promise<ShownFrame[]> {
  return page.evaluate(() => {
    const document = (globalThis as unknown as { document: PageElement })
      .document;
    const cards = document.querySelectorAll("#frames > li.frame");
    const shown: ShownFrame[] = [];
    for (const card of cards) {
      const fields: Record<string, string> = {};
      let lengthEncoding = "";
      for (const cell of card.querySelectorAll("[data-field]")) {
        const name = cell.dataset.field ?? "";
        fields[name] = cell.textContent ?? "";
        if (name === "length") {
          lengthEncoding = cell.parentElement?.dataset.encoding ?? "";
        }
      }
      const groups: string[] = [];
      for (const caption of card.querySelectorAll(".wire .caption")) {
        groups.push(caption.textContent ?? "");
      }
      const notes: string[] = [];
      for (const note of card.querySelectorAll(".note")) {
        notes.push(note.textContent ?? "");
      }
      const badge = card.querySelector(".badge");
      shown.push({
        direction: card.dataset.direction ?? "",
        opcode: card.dataset.opcode ?? "",
        summary: card.querySelector(".summary")?.textContent ?? "",
        badge: badge === null || badge.hidden ? "" : badge.textContent ?? "",
        lengthEncoding,
        fields,
        groups,
        notes,
      });
    }
    return shown;
  });
}
