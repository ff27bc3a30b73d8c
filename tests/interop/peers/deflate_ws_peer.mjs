// A compression interop peer on Node.js with the npm `ws` client and
// `perMessageDeflate` on, which can do what the WHATWG API cannot: choose
// its own threshold (0 compresses every message) and send a compressed
// message in fragments. tests/deflate_interop_peers_deno_test.ts checks the
// wire (through a proxy) and the results. The checks it shares with the
// WHATWG peer are in deflate_peer_checks.js.
//
// Run:  node deflate_ws_peer.mjs <ws-base-url> <peer-id> <check,check,...>
// Prints one JSON object: { peer, results: { <check>: observed } }.

import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { WebSocket } from "ws";
import { chatText, createInbox, patternBytes, runChecks } from "./peer_kit.js";
import {
  checkUrl,
  describeEcho,
  echoOne,
  runCommonDeflateCheck,
} from "./deflate_peer_checks.js";

const CHECK_TIMEOUT_MS = 60_000;
const MAX_PAYLOAD = 64 * 1024 * 1024;

function randomBytes(length) {
  return randomFillSync(new Uint8Array(length));
}

/** Opens a connection whose messages can be awaited one by one. */
async function open(url, perMessageDeflate = true) {
  const socket = new WebSocket(url, {
    perMessageDeflate,
    maxPayload: MAX_PAYLOAD,
  });
  const inbox = createInbox();
  let closed = null;
  socket.on("message", (data, isBinary) => {
    inbox.deliver(isBinary ? new Uint8Array(data) : data.toString("utf8"));
  });
  socket.on("error", () => {});
  const closing = new Promise((resolve) => {
    socket.on("close", (code, reason) => {
      closed = { code, reason: reason.toString() };
      inbox.fail(new Error(`closed with ${code} ${closed.reason}`));
      resolve(closed);
    });
  });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return {
    socket,
    next: inbox.next,
    async close() {
      if (!closed) socket.close(1000);
      return await closing;
    },
  };
}

const client = {
  open,
  randomBytes,
  ordering: {
    options: { threshold: 0 },
    // Alternate compressed and uncompressed sends on the wire.
    send: (connection, message, index) =>
      connection.socket.send(message, { compress: index % 2 === 0 }),
  },
};

/** Sends `parts` as one message in fragments, compressed. */
function sendFragments(socket, parts, binary) {
  parts.forEach((part, index) => {
    socket.send(part, {
      binary,
      compress: true,
      fin: index === parts.length - 1,
    });
  });
}

/** Sends `whole` as `parts`, one compressed fragmented message. */
async function fragmentedCheck(url, whole, parts, binary) {
  const connection = await open(url);
  sendFragments(connection.socket, parts, binary);
  const echo = describeEcho(whole, await connection.next());
  await connection.close();
  return echo;
}

function runCheck(base, peerId, check) {
  const common = runCommonDeflateCheck(client, base, peerId, check);
  if (common !== null) return common;
  const url = checkUrl(base, peerId, check);
  switch (check) {
    case "client-threshold-0":
      // ws compresses even this small message.
      return echoOne(client, url, chatText(40), { threshold: 0 });
    case "fragmented-text": {
      const whole = chatText(300_000);
      const parts = [
        whole.slice(0, 1000),
        "",
        whole.slice(1000, 200_000),
        whole.slice(200_000),
      ];
      return fragmentedCheck(url, whole, parts, false);
    }
    case "fragmented-binary": {
      const whole = patternBytes(200_000);
      const parts = [whole.subarray(0, 70_000), whole.subarray(70_000)];
      return fragmentedCheck(url, whole, parts, true);
    }
    default:
      return Promise.reject(new Error(`this peer has no check ${check}`));
  }
}

const [base, peerId, checkList] = process.argv.slice(2);
const wsPackage = new URL(import.meta.resolve("ws/package.json"));
const { version } = JSON.parse(readFileSync(wsPackage, "utf8"));
const results = await runChecks(
  checkList.split(","),
  (check) => runCheck(base, peerId, check),
  CHECK_TIMEOUT_MS,
);
console.log(
  JSON.stringify({ peer: `ws ${version} on node ${process.version}`, results }),
);
process.exit(0);
