// A compression interop peer that uses only the WHATWG `WebSocket` API:
// Chromium (in a page) and Bun's built-in client both offer
// permessage-deflate on their own, so this script only sends messages and
// reports what came back; tests/deflate_interop_peers_deno_test.ts checks
// the wire (through a proxy) and the results. The checks themselves are in
// deflate_peer_checks.js.
//
// Run as a program:  bun deflate_web_peer.js <ws-base-url> <peer-id> <checks>
// In a page it defines globalThis.runDeflateWebPeer(base, peerId, checks).
// It prints one JSON object: { peer, results: { <check>: observed } }.

import { createInbox, runChecks } from "./peer_kit.js";
import { runCommonDeflateCheck } from "./deflate_peer_checks.js";

const CHECK_TIMEOUT_MS = 60_000;

/** Random bytes: they do not compress. */
function randomBytes(length) {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  return bytes;
}

/** Opens a connection whose messages (binary ones as Uint8Array) can be
 * awaited one by one. */
async function open(url) {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const inbox = createInbox();
  let closed = null;
  socket.onmessage = (event) => {
    inbox.deliver(
      typeof event.data === "string" ? event.data : new Uint8Array(event.data),
    );
  };
  socket.onclose = (event) => {
    closed = event;
    inbox.fail(new Error(`closed with ${event.code} ${event.reason}`));
  };
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("could not connect"));
  });
  return {
    socket,
    next: inbox.next,
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

const client = { open, randomBytes };

/** Runs the checks one after another; each reports what it observed. */
export function runDeflateWebPeer(base, peerId, checks) {
  return runChecks(checks, (check) => {
    const running = runCommonDeflateCheck(client, base, peerId, check);
    if (running === null) {
      return Promise.reject(new Error(`this peer has no check ${check}`));
    }
    return running;
  }, CHECK_TIMEOUT_MS);
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
