// The echo page (static/) in headless Chromium against the echo server
// started in process, and the check that the committed static/codec.js is
// what `deno task bundle:page` produces today.
//
// The page is loaded through a proxy that reads the frames on the wire
// (tests/peers/deflate_wire_proxy.ts), so what the page claims about each
// message (opcode, RSV1, length) is checked against what really crossed.
// Expected frame bytes are computed here from the message (UTF-8 by
// TextEncoder, masking by XOR with the key the page shows, inflating with
// node:zlib), never taken from the page's own codec.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { inflateRawSync } from "node:zlib";
import {
  type EchoServer,
  startEchoServer,
} from "../../examples/echo/server.ts";
import {
  type BrowserSession,
  chromiumInstalled,
  launchChromium,
} from "./browser/chromium.ts";
import { skipUnlessAvailable, withDeadline } from "./peers/bounded.ts";
import {
  dataFrames,
  startWireProxy,
  type WireFrame,
  type WireProxy,
} from "./peers/deflate_wire_proxy.ts";
import {
  COMMITTED_BUNDLE,
  REPOSITORY_ROOT,
  writePageBundle,
} from "../support/echo/bundle_page.ts";
import {
  openEchoPage,
  PAGE_STEP_TIMEOUT_MS,
  readShownFrames,
  sendBinaryFromPage,
  sendTextFromPage,
  setCompressionFromPage,
  type ShownFrame,
} from "../support/echo/page_driver.ts";

const skip = skipUnlessAvailable(await chromiumInstalled(), "Chromium");

function hex(bytes: Iterable<number>): string {
  const pairs: string[] = [];
  for (const byte of bytes) pairs.push(byte.toString(16).padStart(2, "0"));
  return pairs.join(" ");
}

function bytesOfHex(text: string): number[] {
  return text.split(" ").map((pair) => parseInt(pair, 16));
}

/** What the server agrees to at / (echo_server.ts). */
/** The echo server's answer to Chromium's offer (`permessage-deflate;
 * client_max_window_bits`): the default preset, context takeover, 4 KiB
 * windows both ways. */
const AGREED =
  "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12";

/** RFC 7692 7.2.2, as zlib-based receivers do it: append 00 00 ff ff to
 * the payload and inflate it as raw DEFLATE. */
function zlibInflate(payload: number[]): number[] {
  const withTail = Uint8Array.from([...payload, 0x00, 0x00, 0xff, 0xff]);
  return [...inflateRawSync(withTail)];
}

/** The digits of a number the page wrote in the browser's locale. */
function digits(text: string): number {
  return Number(text.replace(/\D/g, ""));
}

/** A payload field's bytes: the page writes at most 32 in hex, then
 * "… N more"; this wants them all. */
function wholeHex(text: string): number[] {
  assert.doesNotMatch(text, /more$/, "the payload is shown in full");
  return bytesOfHex(text);
}

const OPCODE_NAMES = new Map<number, string>([
  [0x1, "text"],
  [0x2, "binary"],
  [0x8, "close"],
  [0x9, "ping"],
  [0xa, "pong"],
]);

/** One message as crossed the wire: the first frame's opcode and RSV1, and
 * the payload bytes of all its frames. */
interface WireMessage {
  opcode: string;
  rsv1: boolean;
  length: number;
}

/** Joins the frames of each message (a browser may split a large one). */
function wireMessages(frames: readonly WireFrame[]): WireMessage[] {
  const messages: WireMessage[] = [];
  let open: WireMessage | null = null;
  for (const frame of frames) {
    if (frame.opcode === 0x0) {
      assert.ok(open, "a continuation frame starts no message");
      open.length += frame.length;
      assert.equal(frame.rsv1, false, "RSV1 on the first frame only");
    } else {
      const message: WireMessage = {
        opcode: OPCODE_NAMES.get(frame.opcode) ?? `0x${frame.opcode}`,
        rsv1: frame.rsv1,
        length: frame.length,
      };
      // A control frame may come between the frames of a message.
      if (frame.opcode >= 0x8) {
        messages.push(message);
        continue;
      }
      open = message;
      messages.push(message);
    }
    if (frame.fin && frame.opcode < 0x8) open = null;
  }
  return messages;
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
  let proxy: WireProxy | undefined;
  let session: BrowserSession | undefined;
  /** The page's URL through the proxy. */
  let pageUrl = "";

  before(async () => {
    server = await startEchoServer({
      hostname: "127.0.0.1",
      port: 0,
      log: false,
    });
    proxy = startWireProxy(server.addr.port);
    pageUrl = `${proxy.url.replace("ws://", "http://")}/`;
    session = await launchChromium();
    await openEchoPage(session.page, pageUrl);
  });

  after(async () => {
    try {
      await session?.close();
    } finally {
      try {
        await withDeadline(
          proxy?.close() ?? Promise.resolve(),
          15_000,
          "wire proxy close",
        );
      } finally {
        await withDeadline(
          server?.shutdown() ?? Promise.resolve(),
          15_000,
          "echo server shutdown",
        );
      }
    }
  });

  function page(): BrowserSession["page"] {
    assert.ok(session, "the browser did not start");
    return session.page;
  }

  function wsUrl(path: string): string {
    assert.ok(proxy);
    return `${proxy.url}${path}`;
  }

  test("opens a WebSocket with the subprotocol chat and permessage-deflate", async () => {
    const details = await page().textContent("#connection-details");
    assert.equal(
      details,
      `${wsUrl("/")} · subprotocol chat · extensions ${AGREED}`,
    );
    assert.equal(await page().isChecked("#compression"), true);
    assert.deepEqual(session?.pageErrors, []);
  });

  test("compression agreed: a typed message goes out with RSV1 1, deflated and masked; the inflated text is what was typed", async () => {
    const text = "Hello from the test \u2603";
    const utf8 = [...new TextEncoder().encode(text)];
    await sendTextFromPage(page(), text);
    const frames = await readShownFrames(page());
    const sent = lastFrame(frames, "out", "text");
    const echoed = lastFrame(frames, "in", "text");

    assert.equal(sent.fields.fin, "1");
    assert.equal(sent.fields.rsv, "1 0 0");
    assert.equal(sent.fields.opcode, "0x1 text");
    assert.equal(sent.fields.mask, "1");
    assert.match(sent.fields.key, /^[0-9a-f]{2}( [0-9a-f]{2}){3}$/);
    assert.deepEqual(sent.groups, [
      "FIN RSV opcode",
      "MASK length",
      "masking key",
      "payload (deflated, masked)",
    ]);
    const key = bytesOfHex(sent.fields.key);
    const masked = wholeHex(sent.fields["wire-payload"]);
    const deflated = wholeHex(sent.fields["payload-hex"]);
    assert.equal(sent.fields.length, String(deflated.length));
    assert.deepEqual(
      masked.map((byte, index) => byte ^ key[index % 4]),
      deflated,
      "the wire payload XOR the shown key is the compressed payload",
    );
    assert.deepEqual(zlibInflate(deflated), utf8, "zlib inflates it back");
    assert.equal(sent.fields.inflated, hex(utf8));
    assert.equal(sent.fields["payload-text"], `\u201c${text}\u201d`);
    assert.ok(
      sent.notes.some((note) => note.includes("its own zlib")),
      "the card says the browser's bytes differ",
    );

    // 24 bytes: under the server's 32-byte threshold, so sent as is.
    assert.equal(echoed.fields.rsv, "0 0 0");
    assert.equal(echoed.fields.mask, "0");
    assert.equal(echoed.fields.key, "none");
    assert.equal(echoed.fields.length, String(utf8.length));
    assert.equal(echoed.fields["wire-payload"], hex(utf8));
    assert.equal(echoed.fields["payload-hex"], hex(utf8));
    assert.equal(echoed.fields.inflated, undefined);
    assert.equal(echoed.fields["payload-text"], `\u201c${text}\u201d`);
    assert.deepEqual(echoed.groups, [
      "FIN RSV opcode",
      "MASK length",
      "payload",
    ]);
    assert.equal(echoed.badge, "echo matches what was sent");
    assert.deepEqual(session?.pageErrors, []);
  });

  test("a text of 32 bytes or more comes back compressed (RSV1 1, not masked); a shorter one as it is", async () => {
    // 31 bytes that would shrink: under the threshold all the same.
    await sendTextFromPage(page(), "echo ".repeat(6) + "e");
    const short = lastFrame(await readShownFrames(page()), "in", "text");
    assert.equal(short.fields.rsv, "0 0 0");
    assert.equal(digits(short.fields.length), 31);

    const text = "echo ".repeat(250);
    const utf8 = [...new TextEncoder().encode(text)];
    await sendTextFromPage(page(), text);
    const frames = await readShownFrames(page());
    assert.equal(lastFrame(frames, "out", "text").fields.rsv, "1 0 0");
    const echoed = lastFrame(frames, "in", "text");
    assert.equal(echoed.fields.rsv, "1 0 0");
    assert.equal(echoed.fields.mask, "0");
    assert.deepEqual(echoed.groups, [
      "FIN RSV opcode",
      "MASK length",
      "payload (deflated)",
    ]);
    const deflated = wholeHex(echoed.fields["payload-hex"]);
    assert.equal(echoed.fields["wire-payload"], hex(deflated));
    assert.ok(deflated.length < 50, `${deflated.length} bytes`);
    assert.deepEqual(zlibInflate(deflated), utf8);
    assert.ok(echoed.fields.inflated.startsWith(hex(utf8.slice(0, 32))));
    assert.equal(digits(echoed.fields.inflated.split("…")[1]), 1250 - 32);
    assert.equal(
      echoed.fields["payload-text"],
      `\u201c${text.slice(0, 160)}\u2026\u201d`,
    );
    assert.equal(echoed.badge, "echo matches what was sent");
  });

  test("random bytes: both sides compress them, though they grow (context takeover); 16-bit and 64-bit lengths", async () => {
    await sendBinaryFromPage(page(), 300);
    let frames = await readShownFrames(page());
    const sent = lastFrame(frames, "out", "binary");
    assert.equal(sent.fields.rsv, "1 0 0");
    assert.ok(digits(sent.fields.length) > 300, "random bytes grow");
    assert.equal(sent.lengthEncoding, "16-bit");
    assert.deepEqual(sent.groups, [
      "FIN RSV opcode",
      "MASK length",
      "extended length",
      "masking key",
      "payload (deflated, masked)",
    ]);
    const echoed = lastFrame(frames, "in", "binary");
    assert.equal(echoed.fields.rsv, "1 0 0");
    assert.ok(digits(echoed.fields.length) > 300, "random bytes grow");
    assert.equal(echoed.lengthEncoding, "16-bit");
    assert.equal(echoed.badge, "echo matches what was sent");

    await sendBinaryFromPage(page(), 70_000);
    frames = await readShownFrames(page());
    const large = lastFrame(frames, "in", "binary");
    assert.ok(digits(large.fields.length) > 70000);
    assert.equal(large.lengthEncoding, "64-bit");
    assert.equal(large.fields.mask, "0");
    assert.equal(large.fields.rsv, "1 0 0");
    assert.equal(large.badge, "echo matches what was sent");
    assert.ok(
      lastFrame(frames, "out", "binary").notes.some((note) =>
        note.includes("continuation frames")
      ),
      "the card says a browser may split so large a message",
    );
  });

  test("ping:<payload> shows the server's ping and the browser's automatic pong, never compressed", async () => {
    await sendTextFromPage(page(), "ping:hi");
    const frames = await readShownFrames(page());
    const ping = lastFrame(frames, "in", "ping");
    const pong = lastFrame(frames, "out", "pong");
    assert.equal(ping.fields.mask, "0");
    assert.equal(ping.fields.rsv, "0 0 0");
    assert.equal(ping.fields["payload-hex"], "68 69");
    assert.equal(pong.fields.mask, "1");
    assert.equal(pong.fields.rsv, "0 0 0");
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

  /** The page's cards for one direction, as messages. */
  function shownMessages(frames: ShownFrame[], direction: string) {
    return frames.filter((frame) => frame.direction === direction).map(
      (frame) => ({
        opcode: frame.opcode,
        rsv1: frame.fields.rsv === "1 0 0",
        length: digits(frame.fields.length),
      }),
    );
  }

  /** Checks the page's cards against what the proxy saw at `path`. */
  async function expectCardsMatchWire(path: string): Promise<void> {
    const record = proxy?.records.get(path);
    assert.ok(record, `the proxy saw no connection to ${path}`);
    const frames = await readShownFrames(page());
    for (const [direction, wire] of [["out", record.up], ["in", record.down]]) {
      const seen = wireMessages(wire as WireFrame[]);
      const shown = shownMessages(frames, direction as string);
      assert.deepEqual(
        shown.map(({ opcode, rsv1 }) => ({ opcode, rsv1 })),
        seen.map(({ opcode, rsv1 }) => ({ opcode, rsv1 })),
        `${direction}: the opcode and RSV1 of every message`,
      );
      // A compressed payload is rebuilt with other bytes than the sender's;
      // any other payload is the message itself, as long on the wire.
      for (let index = 0; index < seen.length; index++) {
        if (seen[index].rsv1) continue;
        assert.equal(
          shown[index].length,
          seen[index].length,
          `${direction} #${index}`,
        );
      }
    }
  }

  test("every RSV1, opcode and uncompressed length the page shows is what crossed the wire", async () => {
    await expectCardsMatchWire("/");
    const record = proxy?.records.get("/");
    assert.match(record?.offered ?? "", /permessage-deflate/);
    assert.equal(record?.agreed, AGREED);
    // Both directions had compressed and plain messages.
    assert.ok(dataFrames(record?.up ?? []).some((frame) => frame.rsv1));
    assert.ok(dataFrames(record?.down ?? []).some((frame) => frame.rsv1));
    assert.ok(dataFrames(record?.down ?? []).some((frame) => !frame.rsv1));
  });

  test("compression off: the page reconnects to /plain, which declines it; RSV1 stays 0 both ways", async () => {
    await setCompressionFromPage(page(), false);
    const details = await page().textContent("#connection-details");
    assert.equal(
      details,
      `${wsUrl("/plain")} · subprotocol chat · extensions none`,
    );
    await page().click("#clear");

    const text = "Hello from the test \u2603";
    const utf8 = [...new TextEncoder().encode(text)];
    await sendTextFromPage(page(), text);
    let frames = await readShownFrames(page());
    const sent = lastFrame(frames, "out", "text");
    assert.equal(sent.fields.rsv, "0 0 0");
    assert.equal(sent.fields.mask, "1");
    assert.equal(sent.fields.length, String(utf8.length));
    assert.equal(sent.lengthEncoding, "7-bit");
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
    assert.equal(sent.fields.inflated, undefined);
    assert.equal(sent.fields["payload-text"], `\u201c${text}\u201d`);

    await sendTextFromPage(page(), "echo ".repeat(250));
    frames = await readShownFrames(page());
    const long = lastFrame(frames, "in", "text");
    assert.equal(long.fields.rsv, "0 0 0");
    assert.equal(digits(long.fields.length), 1250);
    assert.equal(long.badge, "echo matches what was sent");

    await expectCardsMatchWire("/plain");
    const record = proxy?.records.get("/plain");
    assert.match(record?.offered ?? "", /permessage-deflate/);
    assert.equal(record?.agreed, null, "the 101 has no extension");
    assert.deepEqual(session?.pageErrors, []);
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
    assert.equal(sent.fields.rsv, "0 0 0");
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

  test("compression on again, while closed: connects to / with permessage-deflate", async () => {
    await setCompressionFromPage(page(), true);
    assert.equal(
      await page().textContent("#connection-details"),
      `${wsUrl("/")} · subprotocol chat · extensions ${AGREED}`,
    );
    await sendTextFromPage(page(), "again");
    const frames = await readShownFrames(page());
    assert.equal(lastFrame(frames, "out", "text").fields.rsv, "1 0 0");
    assert.equal(
      lastFrame(frames, "out", "text").fields["payload-text"],
      "\u201cagain\u201d",
    );
    assert.deepEqual(session?.pageErrors, []);
  });
});
