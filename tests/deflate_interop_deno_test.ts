// permessage-deflate (RFC 7692) against peers nobody here wrote: headless
// Chromium and Bun's built-in client (both offer it on their own), the npm
// `ws` client with perMessageDeflate, and Python's `websockets` (on by
// default). Each peer talks to this library's server with compression on
// through a proxy that reads the frames, so the checks see what really
// crossed the wire (RSV1, frame count, bytes), not only that echoes came
// back. Then a raw client sends what no polite peer would: zip bombs, RSV1
// without agreement, an offer that repeats a parameter.
//
// Peers that are not installed are skipped on a developer's machine and
// fail in CI (CI=true), where .ci/run installs them.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import {
  runBounded,
  runsSuccessfully,
  skipUnlessAvailable,
  withDeadline,
} from "./peers/bounded.ts";
import { chromiumInstalled, launchChromium } from "./browser/chromium.ts";
import {
  type DeflateEchoServer,
  startDeflateEchoServer,
} from "./peers/deflate_echo_server.ts";
import {
  dataFrames,
  type WireFrame,
  type WireRecord,
} from "./peers/deflate_wire_proxy.ts";
import { encodeFrame, FrameDecoder, Opcode, RSV1 } from "../frame.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "../protocol.ts";

/** What our server answers to every acceptable offer. */
const AGREED =
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/** How long one peer may take for all its checks before it is killed. */
const PEER_TIMEOUT_MS = 180_000;

const WEB_PEER = fileURLToPath(
  new URL("./peers/deflate_web_peer.js", import.meta.url),
);
const WS_PEER = fileURLToPath(
  new URL("./peers/deflate_ws_peer.mjs", import.meta.url),
);
const PYTHON_PEER = fileURLToPath(
  new URL("./peers/deflate_python_peer.py", import.meta.url),
);

/** What a peer script prints. */
interface PeerReport {
  peer: string;
  results: Record<string, Record<string, unknown>>;
}

/** Checks every peer that offers compression runs. */
const COMMON_CHECKS: readonly string[] = [
  "negotiated",
  "text-large",
  "text-8mib",
  "text-small",
  "threshold-0",
  "binary-random",
  "binary-compressible",
  "ordering",
  "off",
];

interface Peer {
  id: string;
  title: string;
  checks: readonly string[];
  /** Whether the peer offers permessage-deflate at all. */
  offers: boolean;
  /** What the peer's `extensions` shows once agreed, when not the whole
   * header (`ws` lists extension names only). */
  reportsExtensions?: string;
  skip: string | false;
  run(base: string, checks: readonly string[]): Promise<PeerReport>;
}

async function runPeerProcess(
  program: string,
  args: string[],
): Promise<PeerReport> {
  const result = await runBounded(program, args, PEER_TIMEOUT_MS);
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

async function runInChromium(
  base: string,
  checks: readonly string[],
): Promise<PeerReport> {
  const source = await Deno.readTextFile(WEB_PEER);
  const session = await launchChromium();
  try {
    const { page } = session;
    await page.addScriptTag({ content: source, type: "module" });
    await page.waitForFunction(
      () =>
        typeof (globalThis as { runDeflateWebPeer?: unknown })
          .runDeflateWebPeer === "function",
      null,
      { timeout: 10_000 },
    );
    const results = await withDeadline(
      page.evaluate(
        ({ base, checks }) =>
          (globalThis as unknown as {
            runDeflateWebPeer(
              base: string,
              peer: string,
              checks: string[],
            ): Promise<PeerReport["results"]>;
          }).runDeflateWebPeer(base, "chromium", checks),
        { base, checks: [...checks] },
      ),
      PEER_TIMEOUT_MS,
      "the Chromium peer",
    );
    const version = page.context().browser()?.version() ??
      await page.evaluate(() => navigator.userAgent);
    return { peer: `chromium ${version}`, results };
  } finally {
    await session.close();
  }
}

async function findPython(): Promise<string | null> {
  const candidates = [Deno.env.get("PYTHON"), "/usr/bin/python3", "python3"];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    if (await runsSuccessfully(candidate, ["-c", "import websockets"])) {
      return candidate;
    }
  }
  return null;
}

const bunAvailable = await runsSuccessfully("bun", ["--version"]);
const nodeAvailable = await runsSuccessfully("node", ["--version"]);
const python = await findPython();
const chromiumAvailable = await chromiumInstalled();

const PEERS: readonly Peer[] = [
  {
    id: "chromium",
    title: "headless Chromium",
    checks: COMMON_CHECKS,
    offers: true,
    skip: skipUnlessAvailable(chromiumAvailable, "Chromium"),
    run: runInChromium,
  },
  {
    id: "bun",
    title: "Bun's built-in WebSocket client",
    checks: COMMON_CHECKS,
    offers: true,
    skip: skipUnlessAvailable(bunAvailable, "bun"),
    run: (base, checks) =>
      runPeerProcess("bun", [WEB_PEER, base, "bun", checks.join(",")]),
  },
  {
    id: "node-ws",
    title: "the npm ws client with perMessageDeflate",
    checks: [
      ...COMMON_CHECKS,
      "client-threshold-0",
      "fragmented-text",
      "fragmented-binary",
    ],
    offers: true,
    reportsExtensions: "permessage-deflate",
    skip: skipUnlessAvailable(nodeAvailable, "node"),
    run: (base, checks) =>
      runPeerProcess("node", [WS_PEER, base, "node-ws", checks.join(",")]),
  },
  {
    id: "python",
    title: "Python's websockets client",
    checks: [...COMMON_CHECKS, "fragmented-text", "fragmented-binary"],
    offers: true,
    skip: skipUnlessAvailable(python !== null, "python3 with websockets"),
    run: (base, checks) =>
      runPeerProcess(python ?? "python3", [
        PYTHON_PEER,
        base,
        "python",
        checks.join(","),
      ]),
  },
  {
    id: "deno",
    title: "Deno's built-in WebSocket client (offers no compression)",
    checks: ["negotiated", "text-large"],
    offers: false,
    skip: false,
    run: (base, checks) =>
      runPeerProcess(Deno.execPath(), [
        "run",
        "--allow-net",
        "--no-config",
        WEB_PEER,
        base,
        "deno",
        checks.join(","),
      ]),
  },
];

/** A short account of one direction: frames, how many had RSV1, bytes. */
function describeWire(frames: readonly WireFrame[], bytes: number): string {
  const data = dataFrames(frames);
  const compressed = data.filter((frame) => frame.rsv1).length;
  return `${data.length} data frames (${compressed} RSV1), ${bytes} B`;
}

/** The frames of the first message in `frames` (data frames up to FIN). */
function firstMessage(frames: readonly WireFrame[]): WireFrame[] {
  const data = dataFrames(frames);
  const end = data.findIndex((frame) => frame.fin);
  return data.slice(0, end + 1);
}

function expectIdentical(observed: Record<string, unknown>, type: string) {
  assert.equal(observed.type, type, "the echo has the type sent");
  assert.equal(observed.identical, true, "the echo has the content sent");
}

/** Checks what the peer observed and what crossed the wire. */
function expectCheck(
  peer: Peer,
  check: string,
  observed: Record<string, unknown>,
  wire: WireRecord,
  server: DeflateEchoServer,
): void {
  const down = dataFrames(wire.down);
  const up = dataFrames(wire.up);
  if (check === "off" || !peer.offers) {
    assert.equal(wire.agreed, null, "no extension in the 101");
    assert.ok(
      [...up, ...down].every((frame) => !frame.rsv1),
      "no frame has RSV1",
    );
  } else {
    assert.match(wire.offered ?? "", /permessage-deflate/);
    assert.equal(wire.agreed, AGREED, "the 101 carries the agreement");
  }
  switch (check) {
    case "negotiated": {
      const expected = peer.offers ? AGREED : "";
      assert.equal(
        observed.extensions,
        peer.offers ? peer.reportsExtensions ?? AGREED : "",
        "the peer's extensions",
      );
      assert.equal(observed.reply, `extensions:${expected}`);
      assert.equal(server.server.get(wire.target)?.extensions, expected);
      return;
    }
    case "off":
      assert.equal(observed.extensions, "");
      expectIdentical(observed, "text");
      return;
    case "text-large":
    case "text-8mib":
    case "binary-compressible": {
      const size = check === "text-8mib" ? 8 << 20 : 1 << 20;
      expectIdentical(observed, check.startsWith("text") ? "text" : "binary");
      if (!peer.offers) return;
      assert.equal(firstMessage(wire.up)[0].rsv1, true, "the peer compressed");
      assert.deepEqual(
        firstMessage(wire.down).map((frame) => frame.rsv1),
        [true],
        "the server compressed, in one frame",
      );
      assert.ok(wire.downBytes < size / 4, `${wire.downBytes} bytes back`);
      return;
    }
    case "text-small":
      // 100 bytes: below the server's 1024-byte threshold. Whether the peer
      // compresses is its choice (Chromium and Python do, ws does not).
      expectIdentical(observed, "text");
      assert.equal(firstMessage(wire.down)[0].rsv1, false);
      return;
    case "threshold-0":
      expectIdentical(observed, "text");
      assert.equal(firstMessage(wire.down)[0].rsv1, true, "200 bytes shrink");
      return;
    case "client-threshold-0":
      expectIdentical(observed, "text");
      assert.equal(firstMessage(wire.up)[0].rsv1, true, "ws compressed 40 B");
      return;
    case "binary-random":
      expectIdentical(observed, "binary");
      // Random bytes do not shrink: the server sends them as they are.
      assert.equal(firstMessage(wire.down)[0].rsv1, false);
      assert.ok(wire.downBytes >= 1 << 20);
      return;
    case "fragmented-text":
    case "fragmented-binary": {
      expectIdentical(observed, check.slice("fragmented-".length));
      const frames = firstMessage(wire.up);
      assert.ok(frames.length > 1, `${frames.length} frames`);
      assert.deepEqual(
        frames.map((frame) => frame.rsv1),
        [true, ...frames.slice(1).map(() => false)],
        "RSV1 on the first frame only",
      );
      return;
    }
    case "ordering":
      assert.deepEqual(observed, { count: 60, inOrder: true });
      assert.ok(down.some((frame) => frame.rsv1), "some went compressed");
      assert.ok(down.some((frame) => !frame.rsv1), "some went plain");
      return;
    default:
      assert.fail(`no expectation for check ${check}`);
  }
}

for (const peer of PEERS) {
  describe(`permessage-deflate with ${peer.title}`, { skip: peer.skip }, () => {
    let server: DeflateEchoServer | undefined;
    let report: PeerReport | undefined;

    before(async () => {
      server = await startDeflateEchoServer();
      report = await peer.run(server.url, peer.checks);
      console.log(`peer: ${report.peer}`);
    });

    after(async () => {
      await server?.close();
    });

    for (const check of peer.checks) {
      test(check, () => {
        assert.ok(report && server, "the peer produced no report");
        const observed = report.results[check];
        assert.ok(observed, `the peer did not report ${check}`);
        if ("error" in observed) assert.fail(String(observed.error));
        const target = `/?check=${check}&peer=${peer.id}${
          check === "off"
            ? "&deflate=off"
            : check === "threshold-0"
            ? "&threshold=0"
            : ""
        }`;
        const wire = server.wire.get(target);
        assert.ok(wire, `the proxy saw ${target}`);
        assert.equal(wire.problem, undefined, "the proxy read every frame");
        console.log(
          `wire: up ${describeWire(wire.up, wire.upBytes)}; down ${
            describeWire(wire.down, wire.downBytes)
          }`,
        );
        expectCheck(peer, check, observed, wire, server);
      });
    }
  });
}

// ---------------------------------------------------------------------------
// A raw client: what no polite peer sends.

const encoder = new TextEncoder();

/** A raw connection to the server, with the 101 read and a frame reader. */
async function rawUpgrade(
  server: DeflateEchoServer,
  target: string,
  offer: string | null,
): Promise<{
  conn: Deno.Conn;
  status: number;
  extensions: string | null;
  nextFrame(): Promise<
    { opcode: number; rsv1: boolean; payload: Uint8Array } | null
  >;
}> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const head = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n" +
    (offer === null ? "" : `Sec-WebSocket-Extensions: ${offer}\r\n`) + "\r\n";
  await writeAll(conn, encoder.encode(head));
  let received: Uint8Array = new Uint8Array(0);
  let end = -1;
  while (end === -1) {
    const buffer = new Uint8Array(4096);
    const count = await conn.read(buffer);
    if (count === null) throw new Error("the server closed before its 101");
    received = concat(received, buffer.subarray(0, count));
    end = new TextDecoder().decode(received).indexOf("\r\n\r\n");
  }
  const headText = new TextDecoder().decode(received.subarray(0, end));
  const status = Number(headText.split(" ")[1]);
  let extensions: string | null = null;
  for (const line of headText.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (line.slice(0, colon).toLowerCase() === "sec-websocket-extensions") {
      extensions = line.slice(colon + 1).trim();
    }
  }
  const decoder = new FrameDecoder({
    expectMasked: false,
    allowedReservedBits: RSV1,
  });
  decoder.push(received.slice(end + 4));
  const nextFrame = async () => {
    for (;;) {
      const frame = decoder.next();
      if (frame !== undefined) {
        return {
          opcode: frame.opcode,
          rsv1: frame.rsv1,
          payload: frame.payload.slice(),
        };
      }
      const buffer = new Uint8Array(64 * 1024);
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch {
        count = null;
      }
      if (count === null) return null;
      decoder.push(buffer.subarray(0, count));
    }
  };
  return { conn, status, extensions, nextFrame };
}

function concat(left: Uint8Array, right: Uint8Array): Uint8Array {
  const joined = new Uint8Array(left.length + right.length);
  joined.set(left);
  joined.set(right, left.length);
  return joined;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * A message payload that inflates to `mebibytes` MiB of zeros: zlib's
 * output for 1 MiB of zeros after a sync flush (non-final blocks ending on
 * a byte boundary with `00 00 ff ff`), repeated, without the last four
 * bytes (RFC 7692 section 7.2.1). About 1 KiB per MiB.
 */
function zipBomb(mebibytes: number): Uint8Array {
  const block = deflateRawSync(new Uint8Array(1 << 20), {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  const bomb = new Uint8Array(block.length * mebibytes);
  for (let i = 0; i < mebibytes; i++) bomb.set(block, i * block.length);
  return bomb.subarray(0, bomb.length - 4);
}

/** Sends `payload` as one compressed binary message; returns the close. */
async function sendCompressedAndAwaitClose(
  client: Awaited<ReturnType<typeof rawUpgrade>>,
  payload: Uint8Array,
  rsv1 = true,
): Promise<{ code: number; reason: string; elapsed: number; ended: boolean }> {
  const started = performance.now();
  await writeAll(
    client.conn,
    encodeFrame(Opcode.Binary, payload, { mask: true, rsv1 }),
  );
  for (;;) {
    const frame = await client.nextFrame();
    if (frame === null) throw new Error("the server closed without a frame");
    if (frame.opcode !== Opcode.Close) continue;
    const elapsed = performance.now() - started;
    const code = (frame.payload[0] << 8) | frame.payload[1];
    const reason = new TextDecoder().decode(frame.payload.subarray(2));
    const ended = (await client.nextFrame()) === null;
    client.conn.close();
    return { code, reason, elapsed, ended };
  }
}

describe("permessage-deflate against a raw client", () => {
  let server: DeflateEchoServer | undefined;

  before(async () => {
    server = await startDeflateEchoServer();
  });

  after(async () => {
    await server?.close();
  });

  test("a 1 GiB zip bomb at the default 64 MiB limit: 1009, quickly, without the memory", async () => {
    assert.ok(server);
    const bomb = zipBomb(1024);
    assert.ok(bomb.length < 2 << 20, `${bomb.length} compressed bytes`);
    const client = await rawUpgrade(
      server,
      "/?check=bomb-1g",
      "permessage-deflate",
    );
    assert.equal(client.status, 101);
    assert.equal(client.extensions, AGREED);
    const rssBefore = Deno.memoryUsage().rss;
    const closed = await withDeadline(
      sendCompressedAndAwaitClose(client, bomb),
      20_000,
      "the close after a zip bomb",
    );
    const rssGrowth = Deno.memoryUsage().rss - rssBefore;
    console.log(
      `1 GiB bomb (${bomb.length} B): close ${closed.code} after ${
        closed.elapsed.toFixed(0)
      } ms, RSS +${(rssGrowth / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.equal(closed.code, 1009);
    assert.match(closed.reason, /inflates to more than/);
    assert.equal(closed.ended, true, "the server closed TCP");
    assert.ok(closed.elapsed < 10_000, "closed within 10 s");
    // Inflating it all would take a GiB; the limit stops it near 64 MiB.
    assert.ok(
      rssGrowth < 8 * DEFAULT_MAX_MESSAGE_SIZE,
      `RSS grew by ${rssGrowth} bytes`,
    );
    assert.equal(server.server.get("/?check=bomb-1g")?.messages, 0);
  });

  test("a 50 MiB zip bomb at a 64 KiB limit: 1009 within a second", async () => {
    assert.ok(server);
    const client = await rawUpgrade(
      server,
      "/?check=bomb-small-limit&max=65536",
      "permessage-deflate",
    );
    assert.equal(client.extensions, AGREED);
    const bomb = zipBomb(50);
    assert.ok(bomb.length < 65536, "the compressed message fits the limit");
    const closed = await withDeadline(
      sendCompressedAndAwaitClose(client, bomb),
      10_000,
      "the close after a zip bomb",
    );
    assert.equal(closed.code, 1009);
    assert.equal(closed.ended, true);
    assert.ok(closed.elapsed < 1000, `${closed.elapsed} ms`);
  });

  test("invalid DEFLATE data: 1007", async () => {
    assert.ok(server);
    const client = await rawUpgrade(
      server,
      "/?check=invalid-deflate",
      "permessage-deflate",
    );
    const closed = await sendCompressedAndAwaitClose(
      client,
      new Uint8Array([0xff, 0xff, 0xff, 0xff]),
    );
    assert.equal(closed.code, 1007);
    assert.equal(closed.ended, true);
  });

  test("RSV1 when the client offered nothing: 1002", async () => {
    assert.ok(server);
    const client = await rawUpgrade(server, "/?check=rsv1-unagreed", null);
    assert.equal(client.status, 101);
    assert.equal(client.extensions, null);
    const payload = deflateRawSync(encoder.encode("hello"));
    const closed = await sendCompressedAndAwaitClose(client, payload);
    assert.equal(closed.code, 1002);
  });

  test("an offer repeating a parameter is declined and the next one accepted", async () => {
    assert.ok(server);
    const repeated =
      "permessage-deflate; client_max_window_bits; client_max_window_bits";
    const first = await rawUpgrade(
      server,
      "/?check=repeated-then-good",
      `${repeated}, permessage-deflate; client_max_window_bits`,
    );
    assert.equal(first.status, 101);
    assert.equal(first.extensions, AGREED);
    first.conn.close();
    const only = await rawUpgrade(server, "/?check=repeated-only", repeated);
    assert.equal(only.status, 101, "declined, not refused");
    assert.equal(only.extensions, null);
    only.conn.close();
  });

  test("zlib's sync-flushed message is read, and zlib reads the compressed echo", async () => {
    assert.ok(server);
    const client = await rawUpgrade(
      server,
      "/?check=zlib-text",
      "permessage-deflate; client_max_window_bits",
    );
    const message = "zlib ".repeat(1000);
    const compressed = deflateRawSync(encoder.encode(message), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    await writeAll(
      client.conn,
      encodeFrame(Opcode.Text, compressed.subarray(0, compressed.length - 4), {
        mask: true,
        rsv1: true,
      }),
    );
    const echo = await client.nextFrame();
    assert.ok(echo);
    assert.equal(echo.opcode, Opcode.Text);
    assert.equal(echo.rsv1, true, "the echo went compressed");
    // What a zlib-based receiver (ws, Python, Chromium) does: append the
    // tail and inflate with a sync flush.
    const inflated = inflateRawSync(
      concat(echo.payload, new Uint8Array([0x00, 0x00, 0xff, 0xff])),
      { finishFlush: constants.Z_SYNC_FLUSH },
    );
    assert.equal(new TextDecoder().decode(inflated), message);
    client.conn.close();
  });
});
