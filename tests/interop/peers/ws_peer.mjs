// An interop peer on Node.js with the npm `ws` client, which can do what the
// WHATWG API cannot: send fragments, send pings, and see the pings and pongs
// that arrive.
//
// Run:  node ws_peer.mjs <ws-url> <check,check,...>
// Prints one JSON object: { peer, results: { <check>: observed } }.
// The timeout, the check loop and the payloads are in peer_kit.js.

import { readFileSync } from "node:fs";
import { WebSocket } from "ws";
import { makeBytes, makeText, runChecks, withTimeout } from "./peer_kit.js";

const CHECK_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;
const MAX_PAYLOAD = 64 * 1024 * 1024;

/** Opens a connection that queues messages, pings, pongs and the close. */
function connect(url, protocols) {
  const socket = new WebSocket(url, protocols ?? [], {
    maxPayload: MAX_PAYLOAD,
  });
  const queue = [];
  const waiters = [];
  let closeInfo = null;
  const closeWaiters = [];
  const deliver = (item) => {
    const waiter = waiters.shift();
    if (waiter) waiter(item);
    else queue.push(item);
  };
  const opened = new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  opened.catch(() => {});
  socket.on("error", () => {});
  socket.on("message", (data, isBinary) => {
    deliver(
      isBinary
        ? { kind: "binary", data: new Uint8Array(data) }
        : { kind: "text", data: data.toString("utf8") },
    );
  });
  socket.on("ping", (data) => deliver({ kind: "ping", data: String(data) }));
  socket.on("pong", (data) => deliver({ kind: "pong", data: String(data) }));
  socket.on("close", (code, reason) => {
    closeInfo = { code, reason: reason.toString("utf8"), clean: code !== 1006 };
    for (const waiter of closeWaiters.splice(0)) waiter(closeInfo);
    for (const waiter of waiters.splice(0)) waiter({ kind: "closed" });
  });
  return {
    socket,
    opened,
    next() {
      if (queue.length > 0) return Promise.resolve(queue.shift());
      if (closeInfo !== null) return Promise.resolve({ kind: "closed" });
      return new Promise((resolve) => waiters.push(resolve));
    },
    /** The next text or binary message, skipping pings and pongs. */
    async nextMessage() {
      for (;;) {
        const item = await this.next();
        if (item.kind !== "ping" && item.kind !== "pong") return item;
      }
    },
    closed() {
      if (closeInfo !== null) return Promise.resolve(closeInfo);
      return new Promise((resolve) => closeWaiters.push(resolve));
    },
  };
}

async function closeQuietly(connection) {
  try {
    if (connection.socket.readyState <= WebSocket.OPEN) {
      connection.socket.close(1000);
    }
    await withTimeout(connection.closed(), CLOSE_TIMEOUT_MS, "closing");
  } catch {
    connection.socket.terminate();
  }
}

function compare(reply, expectedText, expectedBytes) {
  if (reply.kind === "text") {
    return {
      type: "text",
      bytes: Buffer.byteLength(reply.data, "utf8"),
      identical: reply.data === expectedText,
    };
  }
  if (reply.kind === "binary") {
    return {
      type: "binary",
      bytes: reply.data.length,
      identical: expectedBytes !== undefined &&
        Buffer.from(reply.data).equals(Buffer.from(expectedBytes)),
    };
  }
  return { type: reply.kind };
}

async function echoCheck(url, payload) {
  const connection = connect(url);
  try {
    await connection.opened;
    const isText = typeof payload === "string";
    connection.socket.send(payload, { binary: !isText });
    const reply = await connection.nextMessage();
    return isText
      ? compare(reply, payload, undefined)
      : compare(reply, undefined, payload);
  } finally {
    await closeQuietly(connection);
  }
}

/** Sends one message as several frames; `pingBetween` adds a ping mid-message. */
async function fragmentedCheck(url, pieces, binary, pingBetween) {
  const connection = connect(url);
  try {
    await connection.opened;
    let pongPayload = null;
    for (let index = 0; index < pieces.length; index++) {
      const fin = index === pieces.length - 1;
      connection.socket.send(pieces[index], { binary, fin });
      if (pingBetween && index === 0) connection.socket.ping("mid-message");
    }
    let reply;
    for (;;) {
      const item = await connection.next();
      if (item.kind === "pong") pongPayload = item.data;
      else if (item.kind !== "ping") {
        reply = item;
        break;
      }
    }
    if (pingBetween && pongPayload === null) {
      const item = await connection.next();
      if (item.kind === "pong") pongPayload = item.data;
    }
    const observed = binary
      ? compare(reply, undefined, Buffer.concat(pieces.map(Buffer.from)))
      : compare(reply, pieces.join(""), undefined);
    if (pingBetween) observed.pong = pongPayload;
    return observed;
  } finally {
    await closeQuietly(connection);
  }
}

async function orderingCheck(url) {
  const connection = connect(url);
  try {
    await connection.opened;
    const count = 100;
    for (let index = 0; index < count; index++) {
      connection.socket.send(`message ${index}`);
    }
    let inOrder = true;
    let received = 0;
    for (let index = 0; index < count; index++) {
      const item = await connection.nextMessage();
      if (item.kind === "closed") break;
      received++;
      if (item.data !== `message ${index}`) inOrder = false;
    }
    return { count: received, inOrder };
  } finally {
    await closeQuietly(connection);
  }
}

async function clientPingCheck(url) {
  const connection = connect(url);
  try {
    await connection.opened;
    connection.socket.ping("client-ping");
    for (;;) {
      const item = await connection.next();
      if (item.kind === "pong") return { pong: item.data };
      if (item.kind === "closed") return { pong: null };
    }
  } finally {
    await closeQuietly(connection);
  }
}

async function serverPingCheck(url) {
  const connection = connect(url);
  try {
    await connection.opened;
    connection.socket.send("ping:ws-peer");
    let ping = null;
    for (;;) {
      const item = await connection.next();
      if (item.kind === "ping") ping = item.data;
      else if (item.kind === "text") return { ping, reply: item.data };
      else if (item.kind === "closed" || item.kind === "binary") {
        return { ping, reply: null };
      }
    }
  } finally {
    await closeQuietly(connection);
  }
}

async function clientCloseCheck(url) {
  const connection = connect(url);
  await connection.opened;
  connection.socket.close(4000, "client bye \u2603");
  return await connection.closed();
}

async function serverCloseCheck(url) {
  const connection = connect(url);
  await connection.opened;
  connection.socket.send("close:4001:server bye \u2603");
  return await connection.closed();
}

async function subprotocolCheck(url, protocols) {
  const connection = connect(url, protocols);
  try {
    await connection.opened;
    return { protocol: connection.socket.protocol };
  } finally {
    await closeQuietly(connection);
  }
}

async function rejectedCheck(base) {
  const connection = connect(`${base}/reject`);
  try {
    await connection.opened;
    await closeQuietly(connection);
    return { opened: true };
  } catch (error) {
    const match = /Unexpected server response: (\d+)/.exec(String(error));
    return { opened: false, status: match ? Number(match[1]) : null };
  }
}

function runCheck(base, check) {
  const url = `${base}/`;
  const sized = /^(text|binary)-(\d+)$/.exec(check);
  if (sized !== null) {
    const length = Number(sized[2]);
    const payload = sized[1] === "text" ? makeText(length) : makeBytes(length);
    return echoCheck(url, payload);
  }
  switch (check) {
    case "text-unicode":
      return echoCheck(url, "Hello, w\u00f6rld \u2603 \u{1F600}");
    case "fragmented-text":
      return fragmentedCheck(url, ["Hel", "lo, w\u00f6", "rld"], false, false);
    case "fragmented-binary":
      return fragmentedCheck(
        url,
        [makeBytes(1000), makeBytes(0), makeBytes(70000)],
        true,
        false,
      );
    case "fragmented-with-ping":
      return fragmentedCheck(url, ["Hel", "lo"], false, true);
    case "ordering":
      return orderingCheck(url);
    case "client-ping":
      return clientPingCheck(url);
    case "server-ping":
      return serverPingCheck(url);
    case "client-close":
      return clientCloseCheck(url);
    case "server-close":
      return serverCloseCheck(url);
    case "subprotocol":
      return subprotocolCheck(url, ["superchat", "chat"]);
    case "subprotocol-none":
      return subprotocolCheck(url, undefined);
    case "rejected":
      return rejectedCheck(base);
    default:
      return Promise.reject(new Error(`this peer has no check ${check}`));
  }
}

const [base, checkList] = process.argv.slice(2);
const results = await runChecks(
  checkList.split(","),
  (check) => runCheck(base, check),
  CHECK_TIMEOUT_MS,
);
const wsPackage = new URL(import.meta.resolve("ws/package.json"));
const { version } = JSON.parse(readFileSync(wsPackage, "utf8"));
console.log(JSON.stringify({
  peer: `node ${process.version}, ws ${version}`,
  results,
}));
process.exit(0);
