// The chat page (chat/static/) in headless Chromium against the chat server
// started in process: two pages join the same room, talk both ways, HTML in
// a message stays text, a name already taken is refused, leaving is
// announced; after a network drop (a TCP relay between the browser and the
// server is cut) both pages reconnect and rejoin by themselves, also when
// the server has not seen the drop (the relay keeps the server's side open:
// the pages' resume tokens take their names back); and a page whose session
// another connection resumed does not take it back.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Page, WebSocket as PageSocket } from "playwright-core";
import {
  type ChatServer,
  startChatServer,
} from "../../examples/chat/server.ts";
import {
  type BrowserSession,
  chromiumInstalled,
  launchChromium,
} from "./browser/chromium.ts";
import { skipUnlessAvailable, withDeadline } from "./peers/bounded.ts";
import {
  CHAT_STEP_TIMEOUT_MS,
  joinFromPage,
  openChatPage,
  readChat,
  sendFromPage,
  waitForMembers,
  waitForMessages,
  waitForNotes,
} from "../support/chat/page_driver.ts";
import { TcpProxy } from "../support/chat/tcp_proxy.ts";
import { TestClient } from "../support/chat/ws_client.ts";

const skip = skipUnlessAvailable(await chromiumInstalled(), "Chromium");

const XSS = "<img src=x onerror=alert(1)>";

/** The chat messages a page shows, as [author, text, mine]. */
async function shownMessages(page: Page): Promise<[string, string, boolean][]> {
  const { entries } = await readChat(page);
  return entries
    .filter((entry) => entry.kind === "message")
    .map((entry) => [entry.author, entry.text, entry.mine]);
}

async function shownNotes(page: Page): Promise<string[]> {
  const { entries } = await readChat(page);
  return entries
    .filter((entry) => entry.kind !== "message")
    .map((entry) => `${entry.kind}: ${entry.text}`);
}

describe("the chat page in headless Chromium", { skip }, () => {
  let chat: ChatServer | undefined;
  let proxy: TcpProxy | undefined;
  let session: BrowserSession | undefined;
  let alice: Page;
  let bob: Page;
  const dialogs: string[] = [];
  /** What the server logged (joins, leaves, resumes), in order. */
  const serverLog: string[] = [];
  /** Every JSON message each page sent or received, in order. */
  const frames = new Map<Page, { sent: unknown[]; received: unknown[] }>();

  /** Records the JSON text frames of every WebSocket the page opens. */
  function recordFrames(page: Page): void {
    const record = { sent: [] as unknown[], received: [] as unknown[] };
    frames.set(page, record);
    const parse = (payload: string | Uint8Array): unknown =>
      typeof payload === "string" ? JSON.parse(payload) : null;
    page.on("websocket", (socket: PageSocket) => {
      socket.on("framesent", ({ payload }) => {
        record.sent.push(parse(payload));
      });
      socket.on("framereceived", ({ payload }) => {
        record.received.push(parse(payload));
      });
    });
  }

  /** The resume token of the page's latest join, as the server sent it. */
  function latestToken(page: Page): string {
    const received = frames.get(page)?.received ?? [];
    for (let index = received.length - 1; index >= 0; index--) {
      const message = received[index] as Record<string, unknown> | null;
      if (message?.type === "join" && typeof message.token === "string") {
        return message.token;
      }
    }
    throw new Error("the page received no token");
  }

  before(async () => {
    chat = await startChatServer({
      hostname: "127.0.0.1",
      port: 0,
      log: (line) => serverLog.push(line),
    });
    proxy = new TcpProxy(chat.addr.port);
    session = await launchChromium();
    alice = session.page;
    bob = await alice.context().newPage();
    for (const page of [alice, bob]) {
      recordFrames(page);
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
    }
  });

  after(async () => {
    try {
      await session?.close();
    } finally {
      await proxy?.close();
      await withDeadline(
        chat?.shutdown() ?? Promise.resolve(),
        15_000,
        "chat shutdown",
      );
    }
  });

  function pageUrl(): string {
    assert.ok(proxy, "the relay did not start");
    return `http://127.0.0.1:${proxy.port}/`;
  }

  test("two people join one room and talk both ways; HTML stays text", async () => {
    await openChatPage(alice, pageUrl());
    await openChatPage(bob, pageUrl());
    await joinFromPage(alice, "Alice", "Tea-Room");
    await joinFromPage(bob, "  Bob ", "tea-room");
    await waitForMembers(alice, ["Alice", "Bob"]);
    await waitForMembers(bob, ["Alice", "Bob"]);

    await sendFromPage(alice, "Hello Bob!");
    await waitForMessages(bob, 1);
    await sendFromPage(bob, "Hi Alice, 2 < 3 & 5 > 4");
    await waitForMessages(alice, 2);
    await sendFromPage(alice, XSS);
    await waitForMessages(bob, 3);

    assert.deepEqual(await shownMessages(alice), [
      ["Alice", "Hello Bob!", true],
      ["Bob", "Hi Alice, 2 < 3 & 5 > 4", false],
      ["Alice", XSS, true],
    ]);
    assert.deepEqual(await shownMessages(bob), [
      ["Alice", "Hello Bob!", false],
      ["Bob", "Hi Alice, 2 < 3 & 5 > 4", true],
      ["Alice", XSS, false],
    ]);
    for (const page of [alice, bob]) {
      const shown = await readChat(page);
      assert.equal(shown.view, "chat");
      assert.equal(shown.status, "open");
      assert.equal(shown.room, "tea-room"); // room names are lowercase
      for (const entry of shown.entries) assert.equal(entry.elementsInText, 0);
      assert.equal(await page.locator("#messages img").count(), 0);
    }
    assert.deepEqual(await shownNotes(alice), [
      "join: You joined #tea-room",
      "join: Bob joined",
    ]);
    assert.deepEqual(await shownNotes(bob), ["join: You joined #tea-room"]);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(session?.pageErrors, []);
  });

  test("after a network drop both pages reconnect, rejoin and keep talking", async () => {
    assert.ok(proxy && chat);
    await proxy.cut();
    // Each page reconnects after its own (jittered) backoff; a message sent
    // before the other page is back in the room would never reach it, so
    // wait until both show that they rejoined. The member lists from before
    // the drop would pass a members check at once, so they do not count.
    for (const page of [alice, bob]) {
      await waitForNotes(page, "system", "Connection lost", 1);
      await waitForNotes(page, "join", "Rejoined #tea-room", 1);
    }
    await waitForMembers(alice, ["Alice", "Bob"]);
    await waitForMembers(bob, ["Alice", "Bob"]);
    await bob.waitForSelector('#status[data-state="open"]');
    await sendFromPage(bob, "back again");
    await waitForMessages(alice, 4);
    const messages = await shownMessages(alice);
    assert.deepEqual(messages.at(-1), ["Bob", "back again", false]);
    const notes = await shownNotes(alice);
    assert.ok(
      notes.some((note) => note.startsWith("system: Connection lost")),
      notes.join("\n"),
    );
    assert.ok(notes.includes("join: Rejoined #tea-room"), notes.join("\n"));
    assert.deepEqual(chat.rooms(), new Map([["tea-room", ["Alice", "Bob"]]]));
  });

  test("when the server has not seen the drop, the pages take their names back with their tokens", async () => {
    assert.ok(proxy && chat);
    const logged = serverLog.length;
    const notesBefore = (await shownNotes(alice)).length;
    // The browser's side of both connections ends; the server's side stays
    // open, so to the server Alice and Bob are still connected and in the
    // room when their pages rejoin: without the tokens both rejoins would be
    // refused as username_taken.
    assert.equal(proxy.strand(), 2);
    for (const page of [alice, bob]) {
      await waitForNotes(page, "system", "Connection lost", 2);
      await waitForNotes(page, "join", "Rejoined #tea-room", 2);
    }
    const since = serverLog.slice(logged);
    assert.deepEqual(since.filter((line) => !line.startsWith("resume ")), []);
    assert.deepEqual(since.sort(), [
      "resume tea-room: Alice (stale connection closed)",
      "resume tea-room: Bob (stale connection closed)",
    ]);
    // Nobody left or joined as far as the room is concerned.
    assert.deepEqual((await shownNotes(alice)).slice(notesBefore), [
      "system: Connection lost (code 1006). Reconnecting…",
      "join: Rejoined #tea-room",
    ]);
    await waitForMembers(alice, ["Alice", "Bob"]);
    await waitForMembers(bob, ["Alice", "Bob"]);
    await sendFromPage(alice, "no one noticed");
    await waitForMessages(bob, 5);
    assert.deepEqual((await shownMessages(bob)).at(-1), [
      "Alice",
      "no one noticed",
      false,
    ]);
    for (const page of [alice, bob]) {
      const shown = await readChat(page);
      assert.equal(shown.view, "chat");
      assert.equal(shown.joinError, "");
    }
    assert.deepEqual(chat.rooms(), new Map([["tea-room", ["Alice", "Bob"]]]));
  });

  test("a taken name is refused on the form; leaving is announced", async () => {
    assert.ok(session && chat);
    const carol = await alice.context().newPage();
    try {
      await openChatPage(carol, pageUrl());
      await carol.fill("#username", "ALICE");
      await carol.fill("#room", "tea-room");
      await carol.click("#join-button");
      await carol.waitForSelector("#join-error:not([hidden])", {
        timeout: CHAT_STEP_TIMEOUT_MS,
      });
      const refused = await readChat(carol);
      assert.equal(refused.view, "join");
      assert.match(refused.joinError, /taken/);
    } finally {
      await carol.close();
    }
    await bob.click("#leave-button");
    await bob.waitForSelector('body[data-view="join"]', {
      timeout: CHAT_STEP_TIMEOUT_MS,
    });
    await waitForMembers(alice, ["Alice"]);
    const notes = await shownNotes(alice);
    assert.equal(notes.at(-1), "leave: Bob left");
    assert.deepEqual(chat.rooms(), new Map([["tea-room", ["Alice"]]]));
    assert.deepEqual(session.pageErrors, []);
  });

  test("a session resumed elsewhere is not taken back: the page shows the form", async () => {
    assert.ok(session && chat);
    const token = latestToken(alice);
    const sentBefore = frames.get(alice)?.sent.length ?? 0;
    const elsewhere = await TestClient.open(
      `ws://127.0.0.1:${chat.addr.port}/ws`,
    );
    try {
      elsewhere.sendJson({
        type: "join",
        username: "Alice",
        room: "tea-room",
        token,
      });
      const resumed = await elsewhere.nextJson();
      assert.deepEqual([resumed.type, resumed.resumed], ["join", true]);
      await alice.waitForSelector("#join-error:not([hidden])", {
        timeout: CHAT_STEP_TIMEOUT_MS,
      });
      const shown = await readChat(alice);
      assert.equal(shown.view, "join");
      assert.match(shown.joinError, /resumed on another connection/);
      assert.equal(
        (await shownNotes(alice)).at(-1),
        "system: This session was resumed on another connection.",
      );
      // The page reconnects but does not join again: the name stays with
      // the connection that resumed it.
      await alice.waitForSelector('#status[data-state="open"]', {
        timeout: CHAT_STEP_TIMEOUT_MS,
      });
      elsewhere.sendJson({ type: "message", text: "mine now" });
      assert.equal((await elsewhere.nextJson()).text, "mine now");
      assert.equal(elsewhere.socket.readyState, WebSocket.OPEN);
      const sentSince = frames.get(alice)?.sent.slice(sentBefore) ?? [];
      assert.deepEqual(sentSince, []);
      assert.deepEqual(chat.rooms(), new Map([["tea-room", ["Alice"]]]));
      assert.deepEqual(session.pageErrors, []);
    } finally {
      await elsewhere.close();
    }
  });
});
