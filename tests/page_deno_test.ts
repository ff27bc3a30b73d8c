// The echo page (static/) in headless Chromium against the echo server
// started in process, and the check that the committed static/codec.js is
// what `deno task bundle:page` produces today.
//
// Expected frame bytes are computed here from the message (UTF-8 by
// TextEncoder, masking by XOR with the key the page shows), never taken
// from the page's own codec.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type EchoServer, startEchoServer } from "../echo_server.ts";
import {
  type BrowserSession,
  chromiumInstalled,
  launchChromium,
} from "./browser/chromium.ts";
import { skipUnlessAvailable, withDeadline } from "./peers/bounded.ts";
import {
  COMMITTED_BUNDLE,
  REPOSITORY_ROOT,
  writePageBundle,
} from "./echo/bundle_page.ts";
import {
  openEchoPage,
  PAGE_STEP_TIMEOUT_MS,
  readShownFrames,
  sendBinaryFromPage,
  sendTextFromPage,
  type ShownFrame,
} from "./echo/page_driver.ts";

const skip = skipUnlessAvailable(await chromiumInstalled(), "Chromium");

function hex(bytes: Iterable<number>): string {
  const pairs: string[] = [];
  for (const byte of bytes) pairs.push(byte.toString(16).padStart(2, "0"));
  return pairs.join(" ");
}

function bytesOfHex(text: string): number[] {
  return text.split(" ").map((pair) => parseInt(pair, 16));
}

/** The last frame shown that matches, or a failed assertion. */
function lastFrame(
  frames: ShownFrame[],
  direction: string,
  opcode: string,
): ShownFrame {
  for (let index = frames.length - 1; index >= 0; index--) {
    const frame = frames[index];
    if (frame.direction === direction && frame.opcode === opcode) return frame;
  }
  assert.fail(`no ${direction} ${opcode} frame among ${frames.length}`);
}

describe("static/codec.js", () => {
  test("is what deno task bundle:page builds today", async () => {
    const dir = await Deno.makeTempDir({ prefix: "rfc6455-page-test-" });
    try {
      const fresh = `${dir}/codec.js`;
      await writePageBundle(fresh);
      const committed = await Deno.readTextFile(
        `${REPOSITORY_ROOT}${COMMITTED_BUNDLE}`,
      );
      assert.ok(
        (await Deno.readTextFile(fresh)) === committed,
        `${COMMITTED_BUNDLE} is stale: run \`deno task bundle:page\` and commit it`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

describe("the echo page in headless Chromium", { skip }, () => {
  let server: EchoServer | undefined;
  let session: BrowserSession | undefined;

  before(async () => {
    server = await startEchoServer({
      hostname: "127.0.0.1",
      port: 0,
      log: false,
    });
    session = await launchChromium();
    await openEchoPage(session.page, server.url);
  });

  after(async () => {
    try {
      await session?.close();
    } finally {
      await withDeadline(
        server?.shutdown() ?? Promise.resolve(),
        15_000,
        "echo server shutdown",
      );
    }
  });

  function page(): BrowserSession["page"] {
    assert.ok(session, "the browser did not start");
    return session.page;
  }

  test("opens a WebSocket to its own server with the subprotocol chat", async () => {
    const details = await page().textContent("#connection-details");
    assert.ok(server);
    assert.match(
      details ?? "",
      new RegExp(
        `^ws://127\\.0\\.0\\.1:${server.addr.port}/ · subprotocol chat`,
      ),
    );
    assert.deepEqual(session?.pageErrors, []);
  });

  test("a typed message is echoed; the frames show MASK 1 out and MASK 0 in", async () => {
    const text = "Hello from the test \u2603";
    const utf8 = [...new TextEncoder().encode(text)];
    await sendTextFromPage(page(), text);
    const frames = await readShownFrames(page());
    const sent = lastFrame(frames, "out", "text");
    const echoed = lastFrame(frames, "in", "text");

    assert.equal(sent.fields.fin, "1");
    assert.equal(sent.fields.rsv, "0 0 0");
    assert.equal(sent.fields.opcode, "0x1 text");
    assert.equal(sent.fields.mask, "1");
    assert.equal(sent.fields.length, String(utf8.length));
    assert.equal(sent.lengthEncoding, "7-bit");
    assert.match(sent.fields.key, /^[0-9a-f]{2}( [0-9a-f]{2}){3}$/);
    assert.deepEqual(sent.groups, [
      "FIN RSV opcode",
      "MASK length",
      "masking key",
      "payload (masked)",
    ]);
    const key = bytesOfHex(sent.fields.key);
    const masked = bytesOfHex(sent.fields["wire-payload"]);
    assert.deepEqual(
      masked.map((byte, index) => byte ^ key[index % 4]),
      utf8,
      "the wire payload XOR the shown key is the message",
    );
    assert.equal(sent.fields["payload-hex"], hex(utf8));
    assert.equal(sent.fields["payload-text"], `\u201c${text}\u201d`);

    assert.equal(echoed.fields.mask, "0");
    assert.equal(echoed.fields.key, "none");
    assert.equal(echoed.fields["wire-payload"], hex(utf8));
    assert.equal(echoed.fields["payload-hex"], hex(utf8));
    assert.equal(echoed.fields["payload-text"], `\u201c${text}\u201d`);
    assert.deepEqual(echoed.groups, [
      "FIN RSV opcode",
      "MASK length",
      "payload",
    ]);
    assert.equal(echoed.badge, "echo matches what was sent");
    assert.deepEqual(session?.pageErrors, []);
  });

  test("binary messages show the 16-bit and 64-bit length encodings", async () => {
    await sendBinaryFromPage(page(), 300);
    let frames = await readShownFrames(page());
    const medium = lastFrame(frames, "out", "binary");
    assert.equal(medium.fields.length, "300");
    assert.equal(medium.lengthEncoding, "16-bit");
    assert.deepEqual(medium.groups, [
      "FIN RSV opcode",
      "MASK length",
      "extended length",
      "masking key",
      "payload (masked)",
    ]);
    assert.match(medium.fields["wire-payload"], /… 268 more$/);
    assert.equal(
      lastFrame(frames, "in", "binary").badge,
      "echo matches what was sent",
    );

    await sendBinaryFromPage(page(), 70_000);
    frames = await readShownFrames(page());
    const large = lastFrame(frames, "in", "binary");
    // The page groups digits in the browser's locale.
    assert.equal(large.fields.length.replace(/\D/g, ""), "70000");
    assert.equal(large.lengthEncoding, "64-bit");
    assert.equal(large.fields.mask, "0");
    assert.equal(large.badge, "echo matches what was sent");
  });

  test("ping:<payload> shows the server's ping and the browser's automatic pong", async () => {
    await sendTextFromPage(page(), "ping:hi");
    const frames = await readShownFrames(page());
    const ping = lastFrame(frames, "in", "ping");
    const pong = lastFrame(frames, "out", "pong");
    assert.equal(ping.fields.mask, "0");
    assert.equal(ping.fields["payload-hex"], "68 69");
    assert.equal(pong.fields.mask, "1");
    assert.equal(pong.fields["payload-hex"], "68 69");
    const reply = lastFrame(frames, "in", "text");
    assert.equal(reply.fields["payload-text"], "\u201cpong:hi\u201d");
  });

  test("shows markup as text, never as HTML", async () => {
    const text = '<i id="inj">i</i><img src=x>';
    await sendTextFromPage(page(), text);
    const injected = await page().locator("#frames #inj, #frames img")
      .count();
    assert.equal(injected, 0);
    const frames = await readShownFrames(page());
    assert.equal(
      lastFrame(frames, "in", "text").fields["payload-text"],
      `\u201c${text}\u201d`,
    );
  });

  test("the close button sends a masked close frame; the server answers", async () => {
    await page().fill("#close-code", "4000");
    await page().fill("#close-reason", "bye");
    await page().click("#close");
    await page().waitForSelector('#status[data-state="closed"]', {
      timeout: PAGE_STEP_TIMEOUT_MS,
    });
    const frames = await readShownFrames(page());
    const sent = lastFrame(frames, "out", "close");
    assert.equal(sent.fields.mask, "1");
    // 4000 = 0x0fa0, then "bye".
    assert.equal(sent.fields["payload-hex"], "0f a0 62 79 65");
    assert.equal(
      sent.fields["payload-text"],
      "code 4000, reason \u201cbye\u201d",
    );
    const answer = lastFrame(frames, "in", "close");
    assert.equal(answer.fields.mask, "0");
    assert.match(answer.fields["payload-hex"], /^0f a0/);
    assert.deepEqual(session?.pageErrors, []);
  });
});
