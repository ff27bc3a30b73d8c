// The echo page: talks to the server with the browser's own WebSocket and,
// for every message, shows the frame that carries it. Browsers never expose
// frames, so each one is rebuilt with this project's frame.ts and deflate.ts
// (bundled into /codec.js): clientFrame masks with a fresh random key,
// serverFrame does not mask, clientMessageFrame and serverMessageFrame also
// compress a message when permessage-deflate was agreed and each side would,
// describeFrame decodes the bytes again with FrameDecoder.
// Everything shown is set with textContent, never parsed as HTML.

import {
  agreedPerMessageDeflate,
  clientFrame,
  clientMessageFrame,
  closePayload,
  ECHO_SERVER_COMPRESSION_THRESHOLD,
  Opcode,
  serverFrame,
  serverMessageFrame,
} from "./codec.js";
import { buildFrameCard, closeDescription, element } from "./frame_card.js";

/** Characters of a text message shown in a frame's one-line summary. */
const SUMMARY_CHARACTERS = 48;
/** crypto.getRandomValues fills at most this many bytes per call. */
const RANDOM_CHUNK_BYTES = 65536;
/** Chromium sends a message up to this size in one frame; a larger one it
 * may split into several (seen from about 70,000 bytes, compressed or not,
 * at split points that vary from run to run). */
const ONE_FRAME_BYTES = 65536;
/** Where the echo server declines permessage-deflate (echo_server.ts
 * PLAIN_ECHO_PATH); "/" accepts it. */
const PLAIN_PATH = "/plain";

const encoder = new TextEncoder();

const statusLabel = document.getElementById("status");
const details = document.getElementById("connection-details");
const reconnectButton = document.getElementById("reconnect");
const frameList = document.getElementById("frames");
const emptyNote = document.getElementById("empty");
const template = document.getElementById("frame-template");
const compressionToggle = document.getElementById("compression");

/** @type {WebSocket | null} */
let socket = null;
/** Whether this page started the close handshake. */
let closeRequested = false;
/** Messages sent that should come back, oldest first. */
let awaitingEcho = [];
/** Whether this connection agreed permessage-deflate. */
let deflateAgreed = false;
/** Whether to connect again once the current socket has closed (the
 * compression switch changed). */
let reconnectAfterClose = false;
/** Payloads of the pings asked for with "ping:<payload>". */
const requestedPings = new Set();
/** Cards are drawn one after the other, in the order of the events, though
 * compressing a message takes a while. */
let drawing = Promise.resolve();

function setStatus(state, text) {
  statusLabel.dataset.state = state;
  statusLabel.textContent = text;
}

function append(item) {
  emptyNote.hidden = true;
  frameList.append(item);
  item.scrollIntoView({ block: "nearest" });
}

/** Runs `draw` once every card asked for earlier is on the page. */
function later(draw) {
  drawing = drawing.then(draw).catch((error) => {
    append(element("li", "event bad", `Could not draw: ${error.message}`));
  });
}

/** A one-line note in the frame list (connected, closed, errors). */
function addEvent(text, tone = "info") {
  later(() => append(element("li", `event ${tone}`, text)));
}

function shorten(text, limit) {
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

/** Draws one rebuilt frame (see buildFrameCard). */
function showFrame(direction, rebuilt, summary, extra) {
  append(buildFrameCard(template, direction, rebuilt, summary, extra));
}

/** A control frame, never compressed, for showFrame. */
function control(wire, payload) {
  return { wire, compression: "control", message: payload };
}

/** Draws a control frame once the cards before it are drawn. */
function showControl(direction, wire, payload, summary, extra) {
  const rebuilt = control(wire, payload);
  later(() => showFrame(direction, rebuilt, summary, extra));
}

/** Rebuilds a data message as its sender would frame it, then draws it. */
function showMessage(direction, opcode, bytes, summary, extra = {}) {
  const deflate = deflateAgreed;
  if (direction === "out" && bytes.length > ONE_FRAME_BYTES) {
    extra = {
      ...extra,
      note: "Drawn as one frame, but your browser may have split a message " +
        "this large into several: the first carries the opcode (and RSV1 " +
        "when compressed), the others are continuation frames, the last " +
        "has FIN = 1.",
    };
  }
  later(async () => {
    const rebuilt = direction === "out"
      ? await clientMessageFrame(opcode, bytes, deflate)
      : await serverMessageFrame(opcode, bytes, deflate);
    showFrame(direction, rebuilt, summary, extra);
  });
}

function sameBytes(left, right) {
  if (left.length !== right.length) return false;
  for (let index = 0; index < left.length; index++) {
    if (left[index] !== right[index]) return false;
  }
  return true;
}

function randomBytes(size) {
  const bytes = new Uint8Array(size);
  for (let start = 0; start < size; start += RANDOM_CHUNK_BYTES) {
    crypto.getRandomValues(bytes.subarray(start, start + RANDOM_CHUNK_BYTES));
  }
  return bytes;
}

function echoBadge(opcode, bytes) {
  const expected = awaitingEcho.shift();
  if (expected === undefined) return {};
  const same = expected.opcode === opcode && sameBytes(expected.bytes, bytes);
  return same
    ? { badge: "echo matches what was sent", tone: "good" }
    : { badge: "echo differs from what was sent", tone: "bad" };
}

function onMessage(event) {
  if (typeof event.data === "string") {
    const bytes = encoder.encode(event.data);
    const pinged = event.data.startsWith("pong:")
      ? event.data.slice("pong:".length)
      : null;
    if (pinged !== null && requestedPings.delete(pinged)) {
      const payload = encoder.encode(pinged);
      const inferred = "inferred: pages never see pings";
      showControl("in", serverFrame(Opcode.Ping, payload), payload, "ping", {
        note: "The server's ping. The browser answers it by itself: " +
          "no event reaches the page, which learns of it only from the " +
          "text message that follows.",
        badge: inferred,
      });
      const pong = clientFrame(Opcode.Pong, payload);
      showControl("out", pong, payload, "automatic pong", { badge: inferred });
      showMessage("in", Opcode.Text, bytes, `“${event.data}”`);
      return;
    }
    const summary = `“${shorten(event.data, SUMMARY_CHARACTERS)}”`;
    showMessage(
      "in",
      Opcode.Text,
      bytes,
      summary,
      echoBadge(Opcode.Text, bytes),
    );
    return;
  }
  const bytes = new Uint8Array(event.data);
  const summary = `${bytes.length.toLocaleString()} bytes`;
  showMessage(
    "in",
    Opcode.Binary,
    bytes,
    summary,
    echoBadge(Opcode.Binary, bytes),
  );
}

function onClose(closed, event) {
  const code = event.code === 1005 ? undefined : event.code;
  if (event.code !== 1006) {
    const payload = closePayload(code, event.reason);
    const summary = closeDescription(payload);
    const answer = serverFrame(Opcode.Close, payload);
    showControl("in", answer, payload, summary, {
      note: closeRequested
        ? "The server's answer: it echoes the code."
        : "The server started the close handshake.",
    });
    if (!closeRequested) {
      showControl("out", clientFrame(Opcode.Close, payload), payload, summary, {
        note: "Your browser's answer, sent by itself. Chromium sends the " +
          "server's code and reason back, as rebuilt here.",
      });
    }
  }
  const clean = event.wasClean ? "cleanly" : "without a close handshake";
  addEvent(
    `Closed ${clean}: code ${event.code}` +
      (event.reason === "" ? "" : `, reason “${event.reason}”`),
    event.wasClean ? "info" : "bad",
  );
  if (socket !== closed) return;
  socket = null;
  setStatus("closed", "closed");
  if (reconnectAfterClose) {
    reconnectAfterClose = false;
    connect();
    return;
  }
  reconnectButton.hidden = false;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const path = compressionToggle.checked ? "/" : PLAIN_PATH;
  const url = `${scheme}://${location.host}${path}`;
  closeRequested = false;
  deflateAgreed = false;
  awaitingEcho = [];
  requestedPings.clear();
  reconnectButton.hidden = true;
  setStatus("connecting", "connecting…");
  details.textContent = url;
  const opened = new WebSocket(url, ["chat"]);
  opened.binaryType = "arraybuffer";
  opened.onopen = () => {
    setStatus("open", "open");
    const protocol = opened.protocol === "" ? "none" : opened.protocol;
    deflateAgreed = agreedPerMessageDeflate(opened.extensions);
    const extensions = opened.extensions === "" ? "none" : opened.extensions;
    details.textContent =
      `${url} · subprotocol ${protocol} · extensions ${extensions}`;
    const compression = deflateAgreed
      ? "permessage-deflate agreed: every message you send goes compressed"
      : path === PLAIN_PATH
      ? `your browser offered permessage-deflate; ${PLAIN_PATH} declined it`
      : "no compression agreed";
    addEvent(
      `Connected to ${url} (the opening handshake is plain HTTP: ` +
        `GET with Upgrade: websocket, answered by 101); ${compression}.`,
    );
  };
  opened.onmessage = onMessage;
  opened.onerror = () => addEvent("The connection failed.", "bad");
  opened.onclose = (event) => onClose(opened, event);
  socket = opened;
}

function requireOpen() {
  if (socket !== null && socket.readyState === WebSocket.OPEN) return true;
  addEvent("Not connected: press Reconnect first.", "bad");
  return false;
}

function sendText(text) {
  if (!requireOpen()) return;
  const bytes = encoder.encode(text);
  socket.send(text);
  if (text.startsWith("ping:")) {
    requestedPings.add(text.slice("ping:".length));
  } else if (!text.startsWith("close:")) {
    awaitingEcho.push({ opcode: Opcode.Text, bytes });
  }
  const summary = `“${shorten(text, SUMMARY_CHARACTERS)}”`;
  showMessage("out", Opcode.Text, bytes, summary);
}

function sendBinary(size) {
  if (!requireOpen()) return;
  const bytes = randomBytes(size);
  socket.send(bytes);
  awaitingEcho.push({ opcode: Opcode.Binary, bytes });
  const summary = `${size.toLocaleString()} random bytes`;
  showMessage("out", Opcode.Binary, bytes, summary);
}

function sendClose(codeText, reason) {
  if (!requireOpen()) return;
  const code = codeText === "" ? undefined : Number(codeText);
  try {
    if (code === undefined) socket.close();
    else socket.close(code, reason);
  } catch (error) {
    addEvent(`The browser refused: ${error.message}`, "bad");
    return;
  }
  closeRequested = true;
  setStatus("closing", "closing…");
  const payload = closePayload(code, code === undefined ? "" : reason);
  const summary = closeDescription(payload);
  showControl("out", clientFrame(Opcode.Close, payload), payload, summary);
}

/** The compression switch: close (when connected), then connect to the
 * other path. */
function switchCompression() {
  if (socket === null) {
    connect();
    return;
  }
  reconnectAfterClose = true;
  if (socket.readyState === WebSocket.OPEN) {
    sendClose("1000", "switching compression");
  } else if (socket.readyState === WebSocket.CONNECTING) {
    socket.close();
  }
}

document.getElementById("text-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sendText(document.getElementById("text-input").value);
});

document.getElementById("binary-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("binary-size");
  const size = Number(input.value);
  if (!Number.isInteger(size) || size < 0 || size > Number(input.max)) {
    addEvent(`Pick a size from 0 to ${input.max} bytes.`, "bad");
    return;
  }
  sendBinary(size);
});

document.getElementById("close-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sendClose(
    document.getElementById("close-code").value.trim(),
    document.getElementById("close-reason").value,
  );
});

document.getElementById("threshold").textContent =
  ECHO_SERVER_COMPRESSION_THRESHOLD.toLocaleString();

reconnectButton.addEventListener("click", connect);
compressionToggle.addEventListener("change", switchCompression);

document.getElementById("clear").addEventListener("click", () => {
  frameList.replaceChildren();
  emptyNote.hidden = false;
});

connect();
