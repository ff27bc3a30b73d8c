// Interop with WebSocket peers nobody here wrote: Deno's and Bun's built-in
// clients, the npm `ws` client on Node.js, Python's `websockets`, and
// headless Chromium. Each peer runs a scripted sequence against an echo
// server (conventions in tests/peers/echo_server.ts), one connection per
// check, and reports what it observed as JSON; the expectations live here.
//
// Peers that are not installed are skipped on a developer's machine and
// fail in CI (CI=true), where .ci/run installs them.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type {
  EchoServerUnderTest,
  RunningEchoServer,
} from "./peers/echo_server.ts";
import {
  runsSuccessfully,
  skipUnlessAvailable,
  withDeadline,
} from "./peers/bounded.ts";
import {
  findPython,
  type PeerReport,
  runPeerProcess as runPeerScript,
} from "./peers/peer_runner.ts";

/** Runs a peer script as a subprocess within {@linkcode PEER_TIMEOUT_MS}. */
function runPeerProcess(program: string, args: string[]): Promise<PeerReport> {
  return runPeerScript(program, args, PEER_TIMEOUT_MS);
}
import { chromiumInstalled, launchChromium } from "./browser/chromium.ts";
import {
  findNode24,
  rfc6455EchoServer,
  startHostedEchoServer,
} from "./peers/rfc6455_echo_server.ts";

const node24 = await findNode24();
const bunAvailable = await runsSuccessfully("bun", ["--version"]);

/**
 * The servers under test: this library's, hosted by `serve()` in Deno and
 * by `serveNodeNet()` under Node 24. `nativeDenoEchoServer` from
 * ./peers/echo_server.ts (Deno's built-in server) can be put here to check
 * the peers themselves against a server nobody here wrote.
 */
const SERVERS: ReadonlyArray<
  { server: EchoServerUnderTest; skip: string | false }
> = [
  { server: rfc6455EchoServer, skip: false },
  {
    server: {
      ...rfc6455EchoServer,
      name: "rfc6455 serveNodeNet() under Node 24",
      start: () => startHostedEchoServer(node24 ?? "node", "node-net"),
    },
    skip: skipUnlessAvailable(node24 !== null, "node 24"),
  },
  {
    server: {
      ...rfc6455EchoServer,
      name: "rfc6455 serveBun() under Bun",
      start: () => startHostedEchoServer("bun", "bun"),
    },
    skip: skipUnlessAvailable(bunAvailable, "bun"),
  },
];

/** How long one peer may take for all its checks before it is killed. */
const PEER_TIMEOUT_MS = 90_000;

const WEB_PEER = fileURLToPath(new URL("./peers/web_peer.js", import.meta.url));
const WS_PEER = fileURLToPath(new URL("./peers/ws_peer.mjs", import.meta.url));
const PYTHON_PEER = fileURLToPath(
  new URL("./peers/python_peer.py", import.meta.url),
);

/** Message sizes every peer sends and expects back unchanged. */
const ECHO_CHECKS: readonly string[] = [
  "text-unicode",
  "text-0",
  "text-125",
  "text-126",
  "text-65535",
  "text-65536",
  "binary-0",
  "binary-125",
  "binary-126",
  "binary-65535",
  "binary-65536",
  `binary-${16 * 1024 * 1024}`,
];

/** Checks every peer can run. */
const COMMON_CHECKS: readonly string[] = [
  ...ECHO_CHECKS,
  "ordering",
  "server-ping",
  "client-close",
  "server-close",
  "subprotocol",
  "subprotocol-none",
  "rejected",
];

/** One peer program. */
interface Peer {
  /** Short id, used in `knownFailures` keys. */
  id: string;
  /** Title of its test group. */
  title: string;
  /** Checks it runs. */
  checks: readonly string[];
  /** The payload it asks the server to ping with (`ping:<payload>`). */
  pingPayload: string;
  /** Skip reason when it is missing outside CI, else false. */
  skip: string | false;
  /** Runs the checks against `url` and returns the report. */
  run(url: string, checks: readonly string[]): Promise<PeerReport>;
}

/** Runs the WHATWG peer inside a Chromium page. */
async function runInChromium(
  url: string,
  checks: readonly string[],
): Promise<PeerReport> {
  const source = await Deno.readTextFile(WEB_PEER);
  const session = await launchChromium();
  try {
    const { page } = session;
    await page.addScriptTag({ content: source, type: "module" });
    await page.waitForFunction(
      () =>
        typeof (globalThis as { runWebPeer?: unknown }).runWebPeer ===
          "function",
      null,
      { timeout: 10_000 },
    );
    const results = await withDeadline(
      page.evaluate(
        ({ url, checks }) =>
          (globalThis as unknown as {
            runWebPeer(
              url: string,
              checks: string[],
            ): Promise<PeerReport["results"]>;
          }).runWebPeer(url, checks),
        { url, checks: [...checks] },
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

const nodeAvailable = await runsSuccessfully("node", ["--version"]);
const python = await findPython();
const chromiumAvailable = await chromiumInstalled();

const PEERS: readonly Peer[] = [
  {
    id: "deno",
    title: "Deno's built-in WebSocket client",
    checks: COMMON_CHECKS,
    pingPayload: "web-peer",
    skip: false,
    run: (url, checks) =>
      runPeerProcess(Deno.execPath(), [
        "run",
        "--allow-net",
        "--no-config",
        WEB_PEER,
        url,
        checks.join(","),
      ]),
  },
  {
    id: "bun",
    title: "Bun's built-in WebSocket client",
    checks: COMMON_CHECKS,
    pingPayload: "web-peer",
    skip: skipUnlessAvailable(bunAvailable, "bun"),
    run: (url, checks) =>
      runPeerProcess("bun", [WEB_PEER, url, checks.join(",")]),
  },
  {
    id: "node-ws",
    title: "the npm ws client on Node.js",
    checks: [
      ...COMMON_CHECKS,
      "fragmented-text",
      "fragmented-binary",
      "fragmented-with-ping",
      "client-ping",
    ],
    pingPayload: "ws-peer",
    skip: skipUnlessAvailable(nodeAvailable, "node"),
    run: (url, checks) =>
      runPeerProcess("node", [WS_PEER, url, checks.join(",")]),
  },
  {
    id: "python",
    title: "Python's websockets client",
    checks: [
      ...COMMON_CHECKS,
      "fragmented-text",
      "fragmented-binary",
      "client-ping",
    ],
    pingPayload: "python-peer",
    skip: skipUnlessAvailable(python !== null, "python3 with websockets"),
    run: (url, checks) =>
      runPeerProcess(python ?? "python3", [
        PYTHON_PEER,
        url,
        checks.join(","),
      ]),
  },
  {
    id: "chromium",
    title: "headless Chromium",
    checks: COMMON_CHECKS,
    pingPayload: "web-peer",
    skip: skipUnlessAvailable(chromiumAvailable, "Chromium"),
    run: runInChromium,
  },
];

/** Asserts that an echo came back with the same type, size and content. */
function expectEcho(
  observed: Record<string, unknown>,
  type: string,
  bytes: number,
): void {
  assert.equal(observed.type, type, "the echo has the type sent");
  assert.equal(observed.bytes, bytes, "the echo has the size sent");
  assert.equal(observed.identical, true, "the echo has the content sent");
}

/** What each check must observe. */
function expectCheck(
  peer: Peer,
  check: string,
  observed: Record<string, unknown>,
): void {
  const sized = /^(text|binary)-(\d+)$/.exec(check);
  if (sized !== null) {
    expectEcho(observed, sized[1], Number(sized[2]));
    return;
  }
  switch (check) {
    case "text-unicode":
      // "Hello, wörld ☃ 😀": 13 ASCII + ö (2) + ☃ (3) + 😀 (4) bytes.
      expectEcho(observed, "text", 22);
      return;
    case "fragmented-text":
      // "Hello, wörld" arrives in three frames and returns as one message.
      expectEcho(observed, "text", 13);
      return;
    case "fragmented-binary":
      // 1000 + 0 + 70000 bytes in three frames.
      expectEcho(observed, "binary", 71000);
      return;
    case "fragmented-with-ping":
      expectEcho(observed, "text", 5);
      assert.equal(observed.pong, "mid-message", "the ping was answered");
      return;
    case "ordering":
      assert.deepEqual(observed, { count: 100, inOrder: true });
      return;
    case "client-ping":
      assert.equal(observed.pong, "client-ping");
      return;
    case "server-ping":
      assert.equal(observed.reply, `pong:${peer.pingPayload}`);
      if ("ping" in observed) assert.equal(observed.ping, peer.pingPayload);
      return;
    case "client-close":
      // The server echoes the client's close code (section 5.5.1).
      assert.equal(observed.code, 4000);
      assert.equal(observed.clean, true, "the close handshake completed");
      return;
    case "server-close":
      assert.equal(observed.code, 4001);
      assert.equal(observed.reason, "server bye \u2603");
      assert.equal(observed.clean, true, "the close handshake completed");
      return;
    case "subprotocol":
      assert.equal(observed.protocol, "chat");
      return;
    case "subprotocol-none":
      assert.equal(observed.protocol, "");
      return;
    case "rejected":
      assert.equal(
        observed.opened,
        false,
        "the refused handshake never opened",
      );
      // Peers that expose the HTTP status must see the 403.
      if (observed.status !== undefined) assert.equal(observed.status, 403);
      return;
    default:
      assert.fail(`no expectation for check ${check}`);
  }
}

for (const { server: SERVER, skip: serverSkip } of SERVERS) {
  for (const peer of PEERS) {
    describe(`${SERVER.name} with ${peer.title}`, {
      skip: serverSkip || peer.skip,
    }, () => {
      let server: RunningEchoServer | undefined;
      let report: PeerReport | undefined;

      const runnable = peer.checks.filter((check) =>
        !(check === "server-ping" && !SERVER.features.has("server-ping")) &&
        !SERVER.knownFailures.has(`${peer.id}/${check}`)
      );

      before(async () => {
        server = await SERVER.start();
        report = await peer.run(server.url, runnable);
        console.log(`peer: ${report.peer}`);
      });

      after(async () => {
        await server?.close();
      });

      for (const check of peer.checks) {
        let skip: string | false = false;
        const known = SERVER.knownFailures.get(`${peer.id}/${check}`);
        if (known !== undefined) skip = `known failure: ${known}`;
        else if (
          check === "server-ping" && !SERVER.features.has("server-ping")
        ) {
          skip = "the server's API cannot send pings";
        }
        test(check, { skip }, () => {
          assert.ok(report, "the peer produced no report");
          const observed = report.results[check];
          assert.ok(observed, `the peer did not report ${check}`);
          if ("error" in observed) assert.fail(String(observed.error));
          expectCheck(peer, check, observed);
        });
      }
    });
  }
}
