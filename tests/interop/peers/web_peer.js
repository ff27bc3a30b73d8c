// An interop peer that uses only the WHATWG `WebSocket` API, so the same
// code drives Deno's built-in client, Bun's built-in client and Chromium.
//
// Run as a program:  deno run --allow-net web_peer.js <ws-url> <check,check,...>
//                    bun web_peer.js <ws-url> <check,check,...>
// In a page, it defines globalThis.runWebPeer(url, checks).
// It prints one JSON object: { peer, results: { <check>: observed } }, where
// `observed` is what happened (or { error }). The test decides what is right.
//
// The WHATWG API cannot send fragments or pings, nor see pings and pongs;
// those checks are not asked of this peer.
//
// This file imports nothing on purpose: tests/interop_deno_test.ts injects
// its source into a page, where a relative import cannot resolve. The other
// JavaScript peers share the same helpers from peer_kit.js.

const CHECK_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;

/** Rejects after `ms` unless `promise` settles first; clears its timer. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A text of exactly `byteLength` UTF-8 bytes mixing 1- to 4-byte characters. */
function makeText(byteLength) {
  const unit = "a\u00e9\u2603\u{1F600}"; // 1 + 2 + 3 + 4 bytes
  const units = Math.floor(byteLength / 10);
  return unit.repeat(units) + "x".repeat(byteLength - units * 10);
}

/** Deterministic bytes that are not all equal. */
function makeBytes(length) {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) {
    bytes[index] = (index * 31 + 7) & 0xff;
  }
  return bytes;
}

function sameBytes(left, right) {
  if (left.length !== right.length) return false;
  for (let index = 0; index < left.length; index++) {
    if (left[index] !== right[index]) return false;
  }
  return true;
}

/**
 * Opens a connection and queues everything it reports, so a check can await
 * the next message or the close without missing events.
 */
function connect(url, protocols) {
  const socket = protocols === undefined
    ? new WebSocket(url)
    : new WebSocket(url, protocols);
  socket.binaryType = "arraybuffer";
  const messages = [];
  const waiters = [];
  let closeEvent = null;
  const closeWaiters = [];
  const opened = new Promise((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("error event before open"));
  });
  opened.catch(() => {});
  socket.onmessage = (event) => {
    const waiter = waiters.shift();
    if (waiter) waiter(event.data);
    else messages.push(event.data);
  };
  socket.onclose = (event) => {
    closeEvent = {
      code: event.code,
      reason: event.reason,
      clean: event.wasClean,
    };
    for (const waiter of closeWaiters.splice(0)) waiter(closeEvent);
    for (const waiter of waiters.splice(0)) waiter(null);
  };
  return {
    socket,
    opened,
    nextMessage() {
      if (messages.length > 0) return Promise.resolve(messages.shift());
      if (closeEvent !== null) return Promise.resolve(null);
      return new Promise((resolve) => waiters.push(resolve));
    },
    closed() {
      if (closeEvent !== null) return Promise.resolve(closeEvent);
      return new Promise((resolve) => closeWaiters.push(resolve));
    },
  };
}

/** Closes normally and waits (bounded) for the close to finish. */
async function closeQuietly(connection) {
  try {
    if (connection.socket.readyState <= 1) connection.socket.close(1000);
    await withTimeout(connection.closed(), CLOSE_TIMEOUT_MS, "closing");
  } catch {
    // The check's result is already recorded.
  }
}

function describeMessage(data) {
  if (data === null) return { type: "closed" };
  if (typeof data === "string") return { type: "text", data };
  return { type: "binary", data: new Uint8Array(data) };
}

async function echoCheck(url, payload) {
  const connection = connect(url);
  try {
    await connection.opened;
    connection.socket.send(payload);
    const reply = describeMessage(await connection.nextMessage());
    if (reply.type === "closed") return { type: "closed" };
    let identical;
    let bytes;
    if (reply.type === "text") {
      identical = typeof payload === "string" && reply.data === payload;
      bytes = new TextEncoder().encode(reply.data).length;
    } else {
      identical = payload instanceof Uint8Array &&
        sameBytes(reply.data, payload);
      bytes = reply.data.length;
    }
    return { type: reply.type, bytes, identical };
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
      const data = await connection.nextMessage();
      if (data === null) break;
      received++;
      if (data !== `message ${index}`) inOrder = false;
    }
    return { count: received, inOrder };
  } finally {
    await closeQuietly(connection);
  }
}

async function serverPingCheck(url) {
  const connection = connect(url);
  try {
    await connection.opened;
    connection.socket.send("ping:web-peer");
    const reply = describeMessage(await connection.nextMessage());
    return { reply: reply.type === "text" ? reply.data : null };
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

async function rejectedCheck(url) {
  const connection = connect(`${url}/reject`);
  let opened = false;
  try {
    await connection.opened;
    opened = true;
  } catch {
    // Expected: the handshake was refused.
  }
  const closeEvent = await connection.closed();
  if (opened) await closeQuietly(connection);
  return { opened, code: closeEvent.code };
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
    case "ordering":
      return orderingCheck(url);
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

/**
 * Runs `checks` one after another against the echo server at `base`
 * (`ws://host:port`, no path).
 */
export async function runWebPeer(base, checks) {
  const results = {};
  for (const check of checks) {
    try {
      results[check] = await withTimeout(
        runCheck(base, check),
        CHECK_TIMEOUT_MS,
        check,
      );
    } catch (error) {
      results[check] = { error: String(error?.message ?? error) };
    }
  }
  return results;
}

globalThis.runWebPeer = runWebPeer;

if (import.meta.main) {
  const args = globalThis.Deno?.args ?? globalThis.process.argv.slice(2);
  const [base, checkList] = args;
  const peer = globalThis.Deno
    ? `deno ${globalThis.Deno.version.deno}`
    : `bun ${globalThis.Bun?.version}`;
  const results = await runWebPeer(base, checkList.split(","));
  console.log(JSON.stringify({ peer, results }));
}
