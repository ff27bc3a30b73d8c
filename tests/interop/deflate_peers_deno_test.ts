// permessage-deflate (RFC 7692) against peers nobody here wrote: headless
// Chromium and Bun's built-in client (both offer it on their own), the npm
// `ws` client with perMessageDeflate, and Python's `websockets` (on by
// default). Each peer talks to this library's server with compression on
// (context takeover, and each window size 9 to 15) through a proxy that
// reads the frames, so the checks see what really crossed the wire (RSV1,
// frame count, bytes), not only that echoes came back. What no polite peer
// sends is in deflate_raw_deno_test.ts; our client against the peers'
// servers is in client_deflate_peers_deno_test.ts.
//
// Peers that are not installed are skipped on a developer's machine and
// fail in CI (CI=true), where .ci/run installs them.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runsSuccessfully, skipUnlessAvailable } from "./peers/bounded.ts";
import { chromiumInstalled } from "./browser/chromium.ts";
import {
  findPython,
  type PeerReport,
  runPeerInChromium,
  runPeerProcess,
} from "./peers/peer_runner.ts";
import {
  type DeflateEchoServer,
  deflateSetupFor,
  startDeflateEchoServer,
} from "./peers/deflate_echo_server.ts";
import { negotiateDeflate } from "../../deflate/negotiation.ts";
import {
  dataFrames,
  type WireFrame,
  type WireRecord,
} from "./peers/deflate_wire_proxy.ts";

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

/** The window sizes checked, both ways (8 is zlib's 9 in some peers). */
const WINDOW_BITS = [9, 10, 11, 12, 13, 14, 15];

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
  "takeover",
  ...WINDOW_BITS.map((bits) => `window-${bits}`),
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
    run: (base, checks) =>
      runPeerInChromium(
        WEB_PEER,
        "runDeflateWebPeer",
        [base, "chromium", checks],
        PEER_TIMEOUT_MS,
      ),
  },
  {
    id: "bun",
    title: "Bun's built-in WebSocket client",
    checks: COMMON_CHECKS,
    offers: true,
    skip: skipUnlessAvailable(bunAvailable, "bun"),
    run: (base, checks) =>
      runPeerProcess(
        "bun",
        [WEB_PEER, base, "bun", checks.join(",")],
        PEER_TIMEOUT_MS,
      ),
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
      runPeerProcess(
        "node",
        [WS_PEER, base, "node-ws", checks.join(",")],
        PEER_TIMEOUT_MS,
      ),
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
      ], PEER_TIMEOUT_MS),
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
      ], PEER_TIMEOUT_MS),
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

/** What our server answers to the offer that crossed the wire. */
function expectedAgreement(wire: WireRecord, target: string): string {
  const setup = deflateSetupFor(new URL(target, "ws://x").searchParams);
  if (setup === false || wire.offered === null) return "";
  return negotiateDeflate(wire.offered, setup.options)?.response ?? "";
}

/** Checks what the peer observed and what crossed the wire. */
function expectCheck(
  peer: Peer,
  check: string,
  observed: Record<string, unknown>,
  wire: WireRecord,
  server: DeflateEchoServer,
  target: string,
): void {
  const down = dataFrames(wire.down);
  const up = dataFrames(wire.up);
  const agreed = expectedAgreement(wire, target);
  if (check === "off" || !peer.offers) {
    assert.equal(wire.agreed, null, "no extension in the 101");
    assert.ok(
      [...up, ...down].every((frame) => !frame.rsv1),
      "no frame has RSV1",
    );
  } else {
    assert.match(wire.offered ?? "", /permessage-deflate/);
    assert.match(agreed, /^permessage-deflate/);
    assert.equal(wire.agreed, agreed, "the 101 carries the agreement");
  }
  if (check.startsWith("window-")) {
    const bits = check.slice("window-".length);
    assert.deepEqual(observed, {
      count: 33,
      inOrder: true,
      extensions: peer.reportsExtensions ?? agreed,
    });
    if (bits !== "15") {
      assert.match(agreed, new RegExp(`server_max_window_bits=${bits}`));
      // A client that can be bounded is; the others keep no context.
      assert.match(
        agreed,
        /client_max_window_bits/.test(wire.offered ?? "")
          ? new RegExp(`client_max_window_bits=${bits}`)
          : /client_no_context_takeover/,
      );
    }
    assert.ok(down.every((frame) => frame.rsv1), "the server compressed all");
    return;
  }
  switch (check) {
    case "negotiated": {
      const expected = peer.offers ? agreed : "";
      assert.equal(
        observed.extensions,
        peer.offers ? peer.reportsExtensions ?? agreed : "",
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
      // 100 bytes: above the server's 32-byte threshold under context
      // takeover. Whether the peer compresses is its choice (Chromium and
      // Python do, ws does not below its 1024).
      expectIdentical(observed, "text");
      assert.equal(firstMessage(wire.down)[0].rsv1, true);
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
      // Random bytes do not shrink; compressed anyway (stored blocks), since
      // under context takeover the peer's window must see every message.
      assert.equal(firstMessage(wire.down)[0].rsv1, true);
      assert.ok(wire.downBytes >= 1 << 20);
      return;
    case "takeover": {
      assert.deepEqual(observed, {
        count: 50,
        inOrder: true,
        extensions: peer.reportsExtensions ?? agreed,
      });
      assert.doesNotMatch(agreed, /server_no_context_takeover/);
      assert.equal(down.length, 50);
      assert.ok(down.every((frame) => frame.rsv1), "all compressed");
      // Chat messages of 150 bytes: on its own the first shrinks little,
      // the later ones refer back into the messages before them.
      const last = down.slice(-10).reduce((sum, f) => sum + f.length, 0) / 10;
      assert.ok(
        last * 2 < down[0].length,
        `${down[0].length} B first, ${last} B each of the last ten`,
      );
      return;
    }
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
            : check.startsWith("window-")
            ? `&bits=${check.slice("window-".length)}`
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
        expectCheck(peer, check, observed, wire, server, target);
      });
    }
  });
}
