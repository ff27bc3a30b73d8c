// The compression checks both JavaScript deflate peers run (the WHATWG one
// in deflate_web_peer.js, the npm `ws` one in deflate_ws_peer.mjs), written
// once against a small client interface:
//
//   client.open(url, options?) -> Promise<{ socket, next(), close() }>,
//     where next() resolves with the next message (a string, or a
//     Uint8Array for binary) and close() closes with 1000 and waits;
//   client.randomBytes(length) -> Uint8Array;
//   client.ordering (optional): { options, send(connection, message, index) }
//     for a peer that can choose, message by message, what to compress.
//
// tests/deflate_interop_peers_deno_test.ts checks the wire and the results.

import { chatText, patternBytes, sameBytes } from "./peer_kit.js";

/** What came back for `sent`: its type and whether it is the same. */
export function describeEcho(sent, received) {
  const type = typeof received === "string" ? "text" : "binary";
  const identical = typeof sent === "string"
    ? received === sent
    : received instanceof Uint8Array && sameBytes(received, sent);
  return { type, identical };
}

/** Sends one message on a new connection and describes its echo. */
export async function echoOne(client, url, message, options) {
  const connection = await client.open(url, options);
  connection.socket.send(message);
  const received = await connection.next();
  await connection.close();
  return describeEcho(message, received);
}

/** Asks the server what it agreed; reports it and what the client sees. */
async function negotiatedCheck(client, url) {
  const connection = await client.open(url);
  connection.socket.send("extensions?");
  const reply = await connection.next();
  const extensions = connection.socket.extensions;
  await connection.close();
  return { extensions, reply };
}

/** An echo from a server with compression off: nothing may be agreed. */
async function offCheck(client, url) {
  const connection = await client.open(url);
  const message = chatText(65536);
  connection.socket.send(message);
  const echo = describeEcho(message, await connection.next());
  const extensions = connection.socket.extensions;
  await connection.close();
  return { extensions, ...echo };
}

/** Sends 60 messages of mixed type and size; all must come back in order. */
async function orderingCheck(client, url) {
  const connection = await client.open(url, client.ordering?.options);
  const sent = [];
  for (let i = 0; i < 60; i++) {
    const message = i % 3 === 0
      ? `${i}:${chatText(4096)}`
      : i % 3 === 1
      ? `${i}:tiny`
      : patternBytes(3000 + i);
    sent.push(message);
    if (client.ordering) client.ordering.send(connection, message, i);
    else connection.socket.send(message);
  }
  let inOrder = true;
  for (const message of sent) {
    const echo = describeEcho(message, await connection.next());
    if (!echo.identical) inOrder = false;
  }
  await connection.close();
  return { count: sent.length, inOrder };
}

/** A chat message as the chat app sends it: 100-200 bytes of JSON, each a
 * little different from the one before. */
export function chatMessage(index) {
  return JSON.stringify({
    type: "message",
    username: `user${index % 7}`,
    room: "lobby",
    text: `Hello everyone, this is message number ${index}. How are you?`,
    ts: 1_700_000_000_000 + index * 1234,
  });
}

/** Sends `messages` on one connection; all must come back in order. */
async function streamCheck(client, url, messages) {
  const connection = await client.open(url);
  for (const message of messages) connection.socket.send(message);
  let inOrder = true;
  for (const message of messages) {
    const echo = describeEcho(message, await connection.next());
    if (!echo.identical) inOrder = false;
  }
  const extensions = connection.socket.extensions;
  await connection.close();
  return { count: messages.length, inOrder, extensions };
}

/** Messages for a window check: text that repeats at distances from a few
 * hundred bytes to 20 KiB, across messages, and bytes that do not shrink. */
export function windowMessages(client) {
  const messages = [chatText(20_000)];
  for (let i = 0; i < 30; i++) {
    messages.push(`${i}:${chatText(300 + 50 * i)}:${chatMessage(i)}`);
  }
  messages.push(client.randomBytes(5000), patternBytes(40_000));
  return messages;
}

/** The URL of one check's connection; the server keys its records by it. */
export function checkUrl(base, peerId, check, extra = "") {
  return `${base}/?check=${check}&peer=${peerId}${extra}`;
}

/**
 * Runs one of the common checks against the deflate echo server at `base`
 * (`ws://host:port`); returns null for a check that is not common.
 */
export function runCommonDeflateCheck(client, base, peerId, check) {
  const url = (extra = "") => checkUrl(base, peerId, check, extra);
  switch (check) {
    case "negotiated":
      return negotiatedCheck(client, url());
    case "off":
      return offCheck(client, url("&deflate=off"));
    case "text-large":
      return echoOne(client, url(), chatText(1024 * 1024));
    case "text-8mib":
      return echoOne(client, url(), chatText(8 * 1024 * 1024));
    case "text-small":
      return echoOne(client, url(), chatText(100));
    case "threshold-0":
      return echoOne(client, url("&threshold=0"), chatText(200));
    case "binary-random":
      return echoOne(client, url(), client.randomBytes(1024 * 1024));
    case "binary-compressible":
      return echoOne(client, url(), patternBytes(1024 * 1024));
    case "ordering":
      return orderingCheck(client, url());
    case "takeover": {
      const messages = [];
      for (let i = 0; i < 50; i++) messages.push(chatMessage(i));
      return streamCheck(client, url(), messages);
    }
    default:
      if (check.startsWith("window-")) {
        const bits = check.slice("window-".length);
        return streamCheck(
          client,
          url(`&bits=${bits}`),
          windowMessages(client),
        );
      }
      return null;
  }
}
