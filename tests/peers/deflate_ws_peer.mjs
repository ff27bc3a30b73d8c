// A compression interop peer on Node.js with the npm `ws` client and
// `perMessageDeflate` on, which can do what the WHATWG API cannot: choose
// its own threshold (0 compresses every message) and send a compressed
// message in fragments. tests/deflate_interop_deno_test.ts checks the wire
// (through a proxy) and the results.
//
// Run:  node deflate_ws_peer.mjs <ws-base-url> <peer-id> <check,check,...>
// Prints one JSON object: { peer, results: { <check>: observed } }.

import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { WebSocket } from "ws";

const CHECK_TIMEOUT_MS = 60_000;
const MAX_PAYLOAD = 64 * 1024 * 1024;

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Chat-like JSON text (compresses well) of at least `length` characters. */
function chatText(length) {
  const parts = [];
  let size = 0;
  for (let i = 0; size < length; i++) {
    const part = `{"id":${i},"user":"user${
      i % 13
    }","text":"h\u00e9llo \u2603 number ${i}"},`;
    parts.push(part);
    size += part.length;
  }
  return parts.join("").slice(0, length);
}

function randomBytes(length) {
  return randomFillSync(new Uint8Array(length));
}

function patternBytes(length) {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i % 64) < 32 ? i % 7 : 0;
  return bytes;
}

/** Opens a connection whose messages can be awaited one by one. */
async function open(url, perMessageDeflate = true) {
  const socket = new WebSocket(url, {
    perMessageDeflate,
    maxPayload: MAX_PAYLOAD,
  });
  const messages = [];
  const waiters = [];
  let closed = null;
  socket.on("message", (data, isBinary) => {
    const message = isBinary ? new Uint8Array(data) : data.toString("utf8");
    const waiter = waiters.shift();
    if (waiter) waiter.resolve(message);
    else messages.push(message);
  });
  socket.on("error", () => {});
  const closing = new Promise((resolve) => {
    socket.on("close", (code, reason) => {
      closed = { code, reason: reason.toString() };
      for (const waiter of waiters.splice(0)) {
        waiter.reject(new Error(`closed with ${code} ${closed.reason}`));
      }
      resolve(closed);
    });
  });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return {
    socket,
    next() {
      if (messages.length > 0) return Promise.resolve(messages.shift());
      if (closed) return Promise.reject(new Error("closed"));
      return new Promise((resolve, reject) =>
        waiters.push({ resolve, reject })
      );
    },
    async close() {
      if (!closed) socket.close(1000);
      return await closing;
    },
  };
}

function describeEcho(sent, received) {
  if (typeof sent === "string") {
    return {
      type: typeof received === "string" ? "text" : "binary",
      identical: received === sent,
    };
  }
  return {
    type: received instanceof Uint8Array ? "binary" : "text",
    identical: received instanceof Uint8Array &&
      Buffer.compare(Buffer.from(received), Buffer.from(sent)) === 0,
  };
}

async function echoOne(url, message, perMessageDeflate = true) {
  const connection = await open(url, perMessageDeflate);
  connection.socket.send(message);
  const received = await connection.next();
  await connection.close();
  return describeEcho(message, received);
}

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

async function runCheck(base, peerId, check) {
  const url = (extra = "") => `${base}/?check=${check}&peer=${peerId}${extra}`;
  switch (check) {
    case "negotiated": {
      const connection = await open(url());
      connection.socket.send("extensions?");
      const reply = await connection.next();
      const extensions = connection.socket.extensions;
      await connection.close();
      return { extensions, reply };
    }
    case "off": {
      const connection = await open(url("&deflate=off"));
      const message = chatText(65536);
      connection.socket.send(message);
      const echo = describeEcho(message, await connection.next());
      const extensions = connection.socket.extensions;
      await connection.close();
      return { extensions, ...echo };
    }
    case "text-large":
      return echoOne(url(), chatText(1024 * 1024));
    case "text-8mib":
      return echoOne(url(), chatText(8 * 1024 * 1024));
    case "text-small":
      return echoOne(url(), chatText(100));
    case "threshold-0":
      return echoOne(url("&threshold=0"), chatText(200));
    case "client-threshold-0":
      // ws compresses even this small message.
      return echoOne(url(), chatText(40), { threshold: 0 });
    case "binary-random":
      return echoOne(url(), randomBytes(1024 * 1024));
    case "binary-compressible":
      return echoOne(url(), patternBytes(1024 * 1024));
    case "fragmented-text": {
      const connection = await open(url());
      const whole = chatText(300_000);
      const parts = [
        whole.slice(0, 1000),
        "",
        whole.slice(1000, 200_000),
        whole.slice(200_000),
      ];
      sendFragments(connection.socket, parts, false);
      const echo = describeEcho(whole, await connection.next());
      await connection.close();
      return echo;
    }
    case "fragmented-binary": {
      const connection = await open(url());
      const whole = patternBytes(200_000);
      const parts = [whole.subarray(0, 70_000), whole.subarray(70_000)];
      sendFragments(connection.socket, parts, true);
      const echo = describeEcho(whole, await connection.next());
      await connection.close();
      return echo;
    }
    case "ordering": {
      const connection = await open(url(), { threshold: 0 });
      const sent = [];
      for (let i = 0; i < 60; i++) {
        const message = i % 3 === 0
          ? `${i}:${chatText(4096)}`
          : i % 3 === 1
          ? `${i}:tiny`
          : patternBytes(3000 + i);
        sent.push(message);
        // Alternate compressed and uncompressed sends on the wire.
        connection.socket.send(message, { compress: i % 2 === 0 });
      }
      let inOrder = true;
      for (const message of sent) {
        const echo = describeEcho(message, await connection.next());
        if (!echo.identical) inOrder = false;
      }
      await connection.close();
      return { count: sent.length, inOrder };
    }
    default:
      throw new Error(`this peer has no check ${check}`);
  }
}

const [base, peerId, checkList] = process.argv.slice(2);
const wsPackage = new URL(import.meta.resolve("ws/package.json"));
const { version } = JSON.parse(readFileSync(wsPackage, "utf8"));
const results = {};
for (const check of checkList.split(",")) {
  try {
    results[check] = await withTimeout(
      runCheck(base, peerId, check),
      CHECK_TIMEOUT_MS,
      check,
    );
  } catch (error) {
    results[check] = { error: String(error?.message ?? error) };
  }
}
console.log(
  JSON.stringify({ peer: `ws ${version} on node ${process.version}`, results }),
);
process.exit(0);
