// Deno only: wss:// through this library's serve({ cert, key }) with a
// self-signed certificate made by openssl at test time, and clients nobody
// here wrote: Deno's built-in WebSocket (a subprocess trusting the
// certificate through --cert), Bun's built-in WebSocket and the npm `ws`
// client on Node.js (both trusting it through NODE_EXTRA_CA_CERTS), driven
// by the interop peer programs in tests/peers/. Also a raw TLS connection
// that breaks the protocol. Deno.test so the sanitizers run; Bun's run
// excludes tests/*_deno_test.ts.
import {
  type PeerReport,
  runPeerProcess,
} from "../interop/peers/peer_runner.ts";
import assert from "node:assert/strict";
import { serve, type Server, upgradeWebSocket } from "../../mod.ts";
import { Opcode } from "../../frame/types.ts";
import { parseCloseCommand } from "../interop/peers/echo_server.ts";
import {
  IN_CI,
  runBounded,
  runsSuccessfully,
  skipUnlessAvailable,
} from "../interop/peers/bounded.ts";
import {
  clientFrame,
  RawWebSocket,
  upgradeHead,
} from "../support/raw_ws_client_deno.ts";
import { capturingErrors } from "../support/server_deno.ts";

const WEB_PEER =
  new URL("../interop/peers/web_peer.js", import.meta.url).pathname;
const WS_PEER =
  new URL("../interop/peers/ws_peer.mjs", import.meta.url).pathname;
/** Deadline for openssl and for each peer program, in milliseconds. */
const PROCESS_DEADLINE = 60_000;

const opensslAvailable = await runsSuccessfully("openssl", ["version"]);
const bunAvailable = await runsSuccessfully("bun", ["--version"]);
const nodeAvailable = await runsSuccessfully("node", ["--version"]);

interface Certificate {
  /** The directory holding cert.pem and key.pem; removed by dispose(). */
  dir: string;
  certFile: string;
  cert: string;
  key: string;
  dispose(): Promise<void>;
}

/**
 * A fresh self-signed certificate for 127.0.0.1 and localhost, valid for a
 * day. CA:FALSE is set because rustls (Deno's TLS) refuses a server
 * certificate that says it is a CA (CaUsedAsEndEntity), which is what
 * `openssl req -x509` makes by default.
 */
async function makeCertificate(): Promise<Certificate> {
  const dir = await Deno.makeTempDir({ prefix: "rfc6455-tls-" });
  const dispose = () => Deno.remove(dir, { recursive: true });
  try {
    const certFile = `${dir}/cert.pem`;
    const keyFile = `${dir}/key.pem`;
    let result;
    try {
      result = await runBounded("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-keyout",
        keyFile,
        "-out",
        certFile,
      ], PROCESS_DEADLINE);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(
          "openssl is not installed: the TLS tests make their certificate " +
            "with it at test time (.ci/run installs it from apt)",
        );
      }
      throw error;
    }
    assert.equal(result.code, 0, `openssl failed: ${result.stderr}`);
    return {
      dir,
      certFile,
      cert: await Deno.readTextFile(certFile),
      key: await Deno.readTextFile(keyFile),
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** What the server saw of one WebSocket. */
interface ServerReport {
  url: string;
  code: number;
  reason: string;
  wasClean: boolean;
}

/** An echo server over TLS following the peers' conventions
 * (`close:<code>:<reason>` makes the server close). */
function startTlsEchoServer(
  certificate: Certificate,
): { server: Server; reports: Promise<ServerReport>[] } {
  const reports: Promise<ServerReport>[] = [];
  const server = serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      cert: certificate.cert,
      key: certificate.key,
      onListen() {},
    },
    (request) => {
      const { socket, response } = upgradeWebSocket(request);
      reports.push(
        new Promise((resolve) => {
          socket.onclose = (event) =>
            resolve({
              url: request.url,
              code: event.code,
              reason: event.reason,
              wasClean: event.wasClean,
            });
        }),
      );
      socket.onmessage = (event) => {
        if (typeof event.data === "string") {
          const command = parseCloseCommand(event.data);
          if (command !== null) {
            socket.close(command.code, command.reason);
            return;
          }
        }
        socket.send(event.data);
      };
      return response;
    },
  );
  return { server, reports };
}

/** Runs a peer script within {@linkcode PROCESS_DEADLINE}. */
function runPeer(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<PeerReport> {
  return runPeerProcess(program, args, PROCESS_DEADLINE, env);
}

/** Every echo check came back identical, both closes were clean with the
 * right codes, and the server saw the same closes over https URLs (plus
 * `otherConnections` more closed with 1000). */
async function assertEchoedOverTls(
  report: PeerReport,
  echoChecks: string[],
  reports: Promise<ServerReport>[],
  otherConnections = 0,
): Promise<void> {
  const results = report.results;
  for (const check of echoChecks) {
    assert.equal(
      results[check]?.identical,
      true,
      `${check}: ${JSON.stringify(results[check])} (${report.peer})`,
    );
  }
  assert.equal(results["text-unicode"].type, "text");
  assert.equal(results["binary-1000"].type, "binary");
  assert.deepEqual(
    {
      code: results["client-close"].code,
      clean: results["client-close"].clean,
    },
    { code: 4000, clean: true },
  );
  assert.deepEqual(results["server-close"], {
    code: 4001,
    reason: "server bye \u2603",
    clean: true,
  });
  const seen = await Promise.all(reports);
  const normal = echoChecks.length + otherConnections;
  assert.equal(seen.length, normal + 2);
  for (const entry of seen) {
    assert.ok(entry.url.startsWith("https://127.0.0.1:"), entry.url);
    assert.equal(entry.wasClean, true, JSON.stringify(entry));
  }
  const codes = seen.map((entry) => entry.code).sort();
  const expected = [...new Array(normal).fill(1000), 4000, 4001];
  assert.deepEqual(codes, expected);
}

const ECHO_CHECKS = ["text-unicode", "binary-1000", "binary-65536"];
const CHECKS = [...ECHO_CHECKS, "client-close", "server-close"];

/** Runs `body` with a fresh certificate and a TLS echo server. */
async function withTlsServer(
  body: (
    certificate: Certificate,
    server: Server,
    reports: Promise<ServerReport>[],
  ) => Promise<void>,
): Promise<void> {
  const certificate = await makeCertificate();
  try {
    const { server, reports } = startTlsEchoServer(certificate);
    try {
      await body(certificate, server, reports);
    } finally {
      await server.shutdown();
    }
  } finally {
    await certificate.dispose();
  }
}

const opensslMissing = !opensslAvailable && !IN_CI;

Deno.test({
  name:
    "wss: Deno's built-in WebSocket (--cert) echoes text and binary and closes cleanly",
  ignore: opensslMissing,
  async fn() {
    await withTlsServer(async (certificate, server, reports) => {
      const report = await runPeer(Deno.execPath(), [
        "run",
        "--allow-net",
        "--no-config",
        "--cert",
        certificate.certFile,
        WEB_PEER,
        `wss://127.0.0.1:${server.addr.port}`,
        CHECKS.join(","),
      ]);
      await assertEchoedOverTls(report, ECHO_CHECKS, reports);
    });
  },
});

Deno.test({
  name:
    "wss: without the certificate Deno's WebSocket refuses the server, which keeps serving",
  ignore: opensslMissing,
  async fn() {
    await withTlsServer(async (certificate, server, reports) => {
      const url = `wss://127.0.0.1:${server.addr.port}`;
      const logged = await capturingErrors(async () => {
        const refused = await runPeer(Deno.execPath(), [
          "run",
          "--allow-net",
          "--no-config",
          WEB_PEER,
          url,
          "text-unicode",
        ]);
        assert.deepEqual(refused.results["text-unicode"], {
          error: "error event before open",
        });
      });
      assert.deepEqual(logged, [], "a failed TLS handshake is not logged");
      assert.equal(reports.length, 0, "no request reached the handler");
      const trusted = await runPeer(Deno.execPath(), [
        "run",
        "--allow-net",
        "--no-config",
        "--cert",
        certificate.certFile,
        WEB_PEER,
        url,
        "text-unicode",
      ]);
      assert.equal(trusted.results["text-unicode"].identical, true);
    });
  },
});

Deno.test({
  name:
    "wss: Bun's built-in WebSocket echoes text and binary and closes cleanly",
  ignore: opensslMissing || skipUnlessAvailable(bunAvailable, "bun") !== false,
  async fn() {
    await withTlsServer(async (certificate, server, reports) => {
      const report = await runPeer(
        "bun",
        [WEB_PEER, `wss://127.0.0.1:${server.addr.port}`, CHECKS.join(",")],
        { NODE_EXTRA_CA_CERTS: certificate.certFile },
      );
      await assertEchoedOverTls(report, ECHO_CHECKS, reports);
    });
  },
});

Deno.test({
  name:
    "wss: npm ws on Node.js echoes text, binary and fragments, gets its pong, closes cleanly",
  ignore: opensslMissing ||
    skipUnlessAvailable(nodeAvailable, "node") !== false,
  async fn() {
    await withTlsServer(async (certificate, server, reports) => {
      const checks = [...ECHO_CHECKS, "fragmented-text", "fragmented-binary"];
      const report = await runPeer(
        "node",
        [
          WS_PEER,
          `wss://127.0.0.1:${server.addr.port}`,
          [...checks, "client-ping", "client-close", "server-close"].join(","),
        ],
        { NODE_EXTRA_CA_CERTS: certificate.certFile },
      );
      assert.deepEqual(report.results["client-ping"], { pong: "client-ping" });
      // client-ping opens one more connection, closed with 1000.
      await assertEchoedOverTls(report, checks, reports, 1);
    });
  },
});

Deno.test({
  name:
    "wss: a protocol error over TLS still gets its close frame, then the end of the stream",
  ignore: opensslMissing,
  async fn() {
    await withTlsServer(async (certificate, server, reports) => {
      const socket = new RawWebSocket(
        await Deno.connectTls({
          hostname: "127.0.0.1",
          port: server.addr.port,
          caCerts: [certificate.cert],
        }),
      );
      try {
        await socket.send(upgradeHead("/raw-tls"));
        assert.equal((await socket.readHead()).status, 101);
        await socket.send(clientFrame(Opcode.Text, "over tls"));
        const echoed = await socket.readFrame();
        assert.equal(new TextDecoder().decode(echoed.payload), "over tls");
        await socket.send(clientFrame(Opcode.Ping, new Uint8Array(126)));
        assert.equal((await socket.readClose()).code, 1002);
        await socket.expectEnd();
      } finally {
        socket.close();
      }
      const report = await reports[0];
      assert.equal(report.url, "https://127.0.0.1/raw-tls");
      assert.deepEqual(
        { code: report.code, wasClean: report.wasClean },
        { code: 1002, wasClean: false },
      );
    });
  },
});
