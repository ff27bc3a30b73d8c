/**
 * Drives the chat page (`chat/static/`) in a Playwright page: open it, join
 * a room, send a message, and read back what the page shows as plain data.
 * Shared by `tests/chat_page_deno_test.ts` and the `screenshot:chat` task.
 *
 * @module
 */

import type { Page } from "playwright-core";

/** How long one step on the page (load, join, a message) may take. */
export const CHAT_STEP_TIMEOUT_MS = 15_000;

/** The little of the DOM the page-side callbacks use (Deno has no DOM
 * types). */
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  className: string;
  hidden: boolean;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement> & {
    length: number;
  };
}

interface PageGlobals {
  document: PageElement & { body: PageElement };
}

/** One entry of the conversation as the page shows it. */
export interface ShownEntry {
  /** "message", "join", "leave", "error" or "system". */
  kind: string;
  /** The author of a message; "" for notes. */
  author: string;
  /** The text shown. */
  text: string;
  /** Whether the page marks it as the user's own message. */
  mine: boolean;
  /** How many elements the text was rendered as (0 for plain text). */
  elementsInText: number;
}

/** What the chat page shows. */
export interface ShownChat {
  /** "join" or "chat". */
  view: string;
  /** The connection state: "connecting", "open" or "closed". */
  status: string;
  /** The room heading. */
  room: string;
  /** The members list, in order. */
  members: string[];
  /** The conversation, oldest first. */
  entries: ShownEntry[];
  /** The join form's error, or "" when hidden. */
  joinError: string;
}

/**
 * Loads the page and waits until its WebSocket is open.
 *
 * @param page the browser page
 * @param url the chat server's page URL
 */
export async function openChatPage(page: Page, url: string): Promise<void> {
  await page.goto(url, { timeout: CHAT_STEP_TIMEOUT_MS });
  await page.waitForSelector('#status[data-state="open"]', {
    timeout: CHAT_STEP_TIMEOUT_MS,
  });
}

/**
 * Fills in the join form, submits it and waits for the chat view.
 *
 * @param page the browser page
 * @param username the name to join as
 * @param room the room ("" for the default)
 */
export async function joinFromPage(
  page: Page,
  username: string,
  room: string,
): Promise<void> {
  await page.fill("#username", username);
  await page.fill("#room", room);
  await page.click("#join-button");
  await page.waitForSelector('body[data-view="chat"]', {
    timeout: CHAT_STEP_TIMEOUT_MS,
  });
}

/**
 * Waits until the page shows at least `count` chat messages.
 *
 * @param page the browser page
 * @param count how many `li.message` entries to wait for
 */
export async function waitForMessages(
  page: Page,
  count: number,
): Promise<void> {
  await page.waitForFunction(
    (wanted) =>
      (globalThis as unknown as PageGlobals).document
        .querySelectorAll('#messages > li[data-kind="message"]').length >=
        wanted,
    count,
    { timeout: CHAT_STEP_TIMEOUT_MS },
  );
}

/**
 * Waits until the conversation shows at least `count` notes of `kind` whose
 * text contains `text`.
 *
 * @param page the browser page
 * @param kind "join", "leave", "error" or "system"
 * @param text what the note's text contains
 * @param count how many such notes to wait for
 */
export async function waitForNotes(
  page: Page,
  kind: string,
  text: string,
  count: number,
): Promise<void> {
  await page.waitForFunction(
    ({ kind, text, count }) => {
      const notes = (globalThis as unknown as PageGlobals).document
        .querySelectorAll(`#messages > li[data-kind="${kind}"]`);
      let found = 0;
      for (const note of notes) {
        if ((note.textContent ?? "").includes(text)) found++;
      }
      return found >= count;
    },
    { kind, text, count },
    { timeout: CHAT_STEP_TIMEOUT_MS },
  );
}

/**
 * Waits until the members list is exactly `members`.
 *
 * @param page the browser page
 * @param members the names, in the order shown
 */
export async function waitForMembers(
  page: Page,
  members: string[],
): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const items = (globalThis as unknown as PageGlobals).document
        .querySelectorAll("#members > li");
      const names: string[] = [];
      for (const item of items) names.push(item.textContent ?? "");
      return JSON.stringify(names) === wanted;
    },
    JSON.stringify(members),
    { timeout: CHAT_STEP_TIMEOUT_MS },
  );
}

/**
 * Types `text` in the message field, presses Enter and waits until the
 * server's broadcast of it is shown (the page shows messages only when the
 * server sends them back).
 *
 * @param page the browser page
 * @param text the message
 */
export async function sendFromPage(page: Page, text: string): Promise<void> {
  const before = await page.locator('#messages > li[data-kind="message"]')
    .count();
  await page.fill("#message-input", text);
  await page.press("#message-input", "Enter");
  await waitForMessages(page, before + 1);
}

/**
 * Reads what the page shows.
 *
 * @param page the browser page
 * @returns the view, status, room, members and conversation
 */
export function readChat(page: Page): Promise<ShownChat> {
  return page.evaluate(() => {
    const document = (globalThis as unknown as PageGlobals).document;
    const textOf = (selector: string) =>
      document.querySelector(selector)?.textContent ?? "";
    const members: string[] = [];
    for (const item of document.querySelectorAll("#members > li")) {
      members.push(item.textContent ?? "");
    }
    const entries: ShownEntry[] = [];
    for (const item of document.querySelectorAll("#messages > li")) {
      const body = item.querySelector(".text");
      entries.push({
        kind: item.dataset.kind ?? "",
        author: item.querySelector(".author")?.textContent ?? "",
        text: body?.textContent ?? "",
        mine: item.className.split(" ").includes("mine"),
        elementsInText: body?.querySelectorAll("*").length ?? 0,
      });
    }
    const joinError = document.querySelector("#join-error");
    return {
      view: document.body.dataset.view ?? "",
      status: document.querySelector("#status")?.dataset.state ?? "",
      room: textOf("#room-name"),
      members,
      entries,
      joinError: joinError === null || joinError.hidden
        ? ""
        : joinError.textContent ?? "",
    };
  });
}
