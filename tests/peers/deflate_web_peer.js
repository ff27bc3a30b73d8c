// A compression interop peer that uses only the WHATWG `WebSocket` API:
// Chromium (in a page) and Bun's built-in client both offer
// permessage-deflate on their own, so this script only sends messages and
// reports what came back; tests/deflate_interop_deno_test.ts checks the
// wire (through a proxy) and the results.
//
// Run as a program:  bun deflate_web_peer.js <ws-base-url> <peer-id> <checks>
// In a page it defines globalThis.runDeflateWebPeer(base, peerId, checks).
// It prints one JSON object: { peer, results: { <check>: observed } }.

const CHECK_TIMEOUT_MS = 60_000;

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

/** Random bytes: they do not compress. */
function randomBytes(length) {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  return bytes;
}

/** Bytes that compress well. */
function patternBytes(length) {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i % 64) < 32 ? i % 7 : 0;
  return bytes;
}

function sameBytes(left, right) {
  if (left.length !== right.length) return false;
  for (let i = 0; i < left.length; i++) if (left[i] !== right[i]) return false;
  return true;
}

/** Opens a connection whose messages can be awaited one by one. */
async function open(url) {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const messages = [];
  const waiters = [];
  let closed = null;
  socket.onmessage = (event) => {
    const waiter = waiters.shift();
    if (waiter) waiter.resolve(event.data);
    else messages.push(event.data);
  };
  socket.onclose = (event) => {
    closed = event;
    for (const waiter of waiters.splice(0)) {
      waiter.reject(new Error(`closed with ${event.code} ${event.reason}`));
    }
  };
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("could not connect"));
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
      if (closed) return;
      const done = new Promise((resolve) => {
        const previous = socket.onclose;
        socket.onclose = (event) => {
          previous(event);
          resolve();
        };
      });
      socket.close(1000);
      await done;
    },
  };
}

function describeEcho(sent, received) {
  if (typeof sent === "string") {
    return {
      type: typeof received === "string" ? "text" : "binary",
      bytes: typeof received === "string" ? received.length : -1,
      identical: received === sent,
    };
  }
  const bytes = received instanceof ArrayBuffer
    ? new Uint8Array(received)
    : null;
  return {
    type: bytes ? "binary" : "text",
    bytes: bytes ? bytes.length : -1,
    identical: bytes !== null && sameBytes(bytes, sent),
  };
}

async function echoOne(url, message) {
  const connection = await open(url);
  connection.socket.send(message);
  const received = await connection.next();
  await connection.close();
  return describeEcho(message, received);
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
    case "binary-random":
      return echoOne(url(), randomBytes(1024 * 1024));
    case "binary-compressible":
      return echoOne(url(), patternBytes(1024 * 1024));
    case "ordering": {
      const connection = await open(url());
      const sent = [];
      for (let i = 0; i < 60; i++) {
        const message = i % 3 === 0
          ? `${i}:${chatText(4096)}`
          : i % 3 === 1
          ? `${i}:tiny`
          : patternBytes(3000 + i);
        sent.push(message);
        connection.socket.send(message);
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

/** Runs the checks one after another; each reports what it observed. */
export async function runDeflateWebPeer(base, peerId, checks) {
  const results = {};
  for (const check of checks) {
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
  return results;
}

globalThis.runDeflateWebPeer = runDeflateWebPeer;

if (import.meta.main) {
  const args = globalThis.Deno?.args ?? globalThis.process.argv.slice(2);
  const [base, peerId, checkList] = args;
  const peer = globalThis.Deno
    ? `deno ${globalThis.Deno.version.deno}`
    : `bun ${globalThis.Bun?.version}`;
  const results = await runDeflateWebPeer(base, peerId, checkList.split(","));
  console.log(JSON.stringify({ peer, results }));
}
