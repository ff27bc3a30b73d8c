// The echo page: talks to the server with the browser's own WebSocket and,
// for every message, shows the frame that carries it. Browsers never expose
// frames, so each one is rebuilt with this project's frame.ts (bundled into
// /codec.js): clientFrame masks with a fresh random key, serverFrame does
// not mask, describeFrame decodes the bytes again with FrameDecoder.
// Everything shown is set with textContent, never parsed as HTML.

import {
  clientFrame,
  closePayload,
  describeFrame,
  Opcode,
  serverFrame,
  toBits,
  toHex,
} from "./codec.js";

/** Payload bytes drawn in the byte strip; the rest are counted. */
const STRIP_PAYLOAD_BYTES = 24;
/** Payload bytes written out in hex in the fields; the rest are counted. */
const HEX_PREVIEW_BYTES = 32;
/** Characters of a text message shown in a frame's one-line summary. */
const SUMMARY_CHARACTERS = 48;
/** crypto.getRandomValues fills at most this many bytes per call. */
const RANDOM_CHUNK_BYTES = 65536;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const statusLabel = document.getElementById("status");
const details = document.getElementById("connection-details");
const reconnectButton = document.getElementById("reconnect");
const frameList = document.getElementById("frames");
const emptyNote = document.getElementById("empty");
const template = document.getElementById("frame-template");

/** @type {WebSocket | null} */
let socket = null;
/** Whether this page started the close handshake. */
let closeRequested = false;
/** Messages sent that should come back, oldest first. */
let awaitingEcho = [];
/** The extensions the server accepted ("" for none). */
let negotiatedExtensions = "";
/** Payloads of the pings asked for with "ping:<payload>". */
const requestedPings = new Set();

function setStatus(state, text) {
  statusLabel.dataset.state = state;
  statusLabel.textContent = text;
}

function element(tag, className, text) {
  const created = document.createElement(tag);
  if (className) created.className = className;
  if (text !== undefined) created.textContent = text;
  return created;
}

function append(item) {
  emptyNote.hidden = true;
  frameList.append(item);
  item.scrollIntoView({ block: "nearest" });
}

/** A one-line note in the frame list (connected, closed, errors). */
function addEvent(text, tone = "info") {
  const item = element("li", `event ${tone}`, text);
  append(item);
}

function shorten(text, limit) {
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

function closeDescription(payload) {
  if (payload.length < 2) return "no code (empty payload)";
  const code = (payload[0] << 8) | payload[1];
  const reason = decoder.decode(payload.subarray(2));
  return reason === "" ? `code ${code}` : `code ${code}, reason “${reason}”`;
}

/** How the unmasked payload reads, by opcode. */
function payloadMeaning(view) {
  const cut = view.omittedBytes > 0 ? "…" : "";
  if (view.opcode === Opcode.Text) {
    return `“${decoder.decode(view.payload)}${cut}”`;
  }
  if (view.opcode === Opcode.Close) return closeDescription(view.payload);
  if (view.opcode === Opcode.Ping || view.opcode === Opcode.Pong) {
    return `“${decoder.decode(view.payload)}”`;
  }
  return `${view.payloadLength.toLocaleString()} bytes of binary data`;
}

function hexWithRest(bytes, omitted) {
  if (bytes.length === 0) return "(empty)";
  const rest = omitted > 0 ? ` … ${omitted.toLocaleString()} more` : "";
  return toHex(bytes) + rest;
}

/** One labelled group of bytes in the strip. */
function byteGroup(part, caption, bytes, more = 0) {
  const group = element("span", `group ${part}`);
  const row = element("span", "bytes");
  for (const byte of bytes) {
    row.append(element("span", "byte", byte.toString(16).padStart(2, "0")));
  }
  if (more > 0) row.append(element("span", "byte more", `+${more}`));
  group.append(row, element("span", "caption", caption));
  return group;
}

function renderWire(container, view) {
  const shown = view.wirePayload.subarray(0, STRIP_PAYLOAD_BYTES);
  const groups = [
    byteGroup("part-b0", "FIN RSV opcode", view.header.subarray(0, 1)),
    byteGroup("part-b1", "MASK length", view.header.subarray(1, 2)),
  ];
  if (view.extendedLength.length > 0) {
    groups.push(
      byteGroup("part-ext", "extended length", view.extendedLength),
    );
  }
  if (view.maskingKey !== null) {
    groups.push(byteGroup("part-key", "masking key", view.maskingKey));
  }
  if (view.payloadLength > 0) {
    groups.push(byteGroup(
      "part-payload",
      view.masked ? "payload (masked)" : "payload",
      shown,
      view.payloadLength - shown.length,
    ));
  }
  container.replaceChildren(...groups);
}

function renderBits(container, view) {
  const first = view.header[0];
  const second = view.header[1];
  const rsv = `${+view.rsv1}${+view.rsv2}${+view.rsv3}`;
  const opcodeBits = (first & 0x0f).toString(2).padStart(4, "0");
  const lengthBits = (second & 0x7f).toString(2).padStart(7, "0");
  container.replaceChildren(
    element("span", "bit-label", "byte 0"),
    element("code", "part-b0", toBits(first)),
    element(
      "span",
      "bit-meaning",
      `FIN ${+view.fin} · RSV ${rsv} · opcode ${opcodeBits}`,
    ),
    element("span", "bit-label", "byte 1"),
    element("code", "part-b1", toBits(second)),
    element(
      "span",
      "bit-meaning",
      `MASK ${+view.masked} · length ${lengthBits} (${view.lengthField})`,
    ),
  );
}

function addField(list, field, part, label, value, why) {
  const row = element("div", `field ${part}`);
  const valueCell = element("dd", "value", value);
  valueCell.dataset.field = field;
  row.append(element("dt", "", label), valueCell, element("dd", "why", why));
  list.append(row);
}

const LENGTH_WHY = {
  "7-bit": "7-bit form: 0–125 fits in byte 1 itself",
  "16-bit": "16-bit form: byte 1 says 126, the next 2 bytes hold it",
  "64-bit": "64-bit form: byte 1 says 127, the next 8 bytes hold it",
};

function renderFields(list, view, outgoing) {
  const opcodeHex = `0x${view.opcode.toString(16)}`;
  addField(
    list,
    "fin",
    "part-b0",
    "FIN",
    `${+view.fin}`,
    view.opcode >= 0x8
      ? "control frames are never fragmented"
      : view.fin
      ? "the last frame of its message"
      : "more frames of this message follow",
  );
  addField(
    list,
    "rsv",
    "part-b0",
    "RSV1–3",
    `${+view.rsv1} ${+view.rsv2} ${+view.rsv3}`,
    negotiatedExtensions === ""
      ? "reserved for extensions; none negotiated"
      : `rebuilt as if uncompressed: ${negotiatedExtensions} may set RSV1`,
  );
  addField(
    list,
    "opcode",
    "part-b0",
    "opcode",
    `${opcodeHex} ${view.opcodeName}`,
    view.opcode >= 0x8 ? "a control frame" : "a data frame",
  );
  addField(
    list,
    "mask",
    "part-b1",
    "MASK",
    `${+view.masked}`,
    outgoing
      ? "a client masks every frame it sends"
      : "a server never masks its frames",
  );
  addField(
    list,
    "length",
    view.extendedLength.length > 0 ? "part-ext" : "part-b1",
    "payload length",
    view.payloadLength.toLocaleString(),
    LENGTH_WHY[view.lengthEncoding],
  );
  list.lastElementChild.dataset.encoding = view.lengthEncoding;
  addField(
    list,
    "key",
    "part-key",
    "masking key",
    view.maskingKey === null ? "none" : toHex(view.maskingKey),
    view.maskingKey === null
      ? "no key: nothing to unmask"
      : "random, from crypto.getRandomValues; your browser used its own",
  );
  addField(
    list,
    "wire-payload",
    "part-payload",
    "payload on the wire",
    hexWithRest(view.wirePayload, view.omittedBytes),
    view.masked ? "byte i XOR key[i mod 4]" : "sent as is",
  );
  addField(
    list,
    "payload-hex",
    "part-payload",
    "payload unmasked",
    hexWithRest(view.payload, view.omittedBytes),
    view.masked ? "what FrameDecoder gives back" : "the same bytes",
  );
  addField(
    list,
    "payload-text",
    "part-payload",
    "meaning",
    payloadMeaning(view),
    `as ${view.opcodeName}`,
  );
}

/**
 * Shows one rebuilt frame.
 *
 * @param {"out" | "in"} direction who sent it
 * @param {Uint8Array} wire the frame's bytes
 * @param {string} summary a short description of the message
 * @param {{ badge?: string, tone?: string, note?: string }} extra
 */
function showFrame(direction, wire, summary, extra = {}) {
  const view = describeFrame(wire, HEX_PREVIEW_BYTES);
  const item = template.content.firstElementChild.cloneNode(true);
  const outgoing = direction === "out";
  item.dataset.direction = direction;
  item.dataset.opcode = view.opcodeName;
  item.querySelector(".direction").textContent = outgoing
    ? "browser → server"
    : "server → browser";
  item.querySelector(".kind").textContent = view.opcodeName;
  const size = `${view.frameLength.toLocaleString()} bytes on the wire`;
  item.querySelector(".summary").textContent = `${summary} · ${size}`;
  if (extra.badge !== undefined) {
    const badge = item.querySelector(".badge");
    badge.hidden = false;
    badge.textContent = extra.badge;
    badge.dataset.tone = extra.tone ?? "info";
  }
  renderWire(item.querySelector(".wire"), view);
  renderBits(item.querySelector(".bits"), view);
  renderFields(item.querySelector(".fields"), view, outgoing);
  if (extra.note !== undefined) {
    item.append(element("p", "note", extra.note));
  }
  append(item);
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
      showFrame("in", serverFrame(Opcode.Ping, payload), "ping", {
        note: "The server's ping. The browser answers it by itself: " +
          "no event reaches the page, which learns of it only from the " +
          "text message that follows.",
        badge: inferred,
      });
      showFrame("out", clientFrame(Opcode.Pong, payload), "automatic pong", {
        badge: inferred,
      });
      showFrame("in", serverFrame(Opcode.Text, bytes), `“${event.data}”`);
      return;
    }
    const summary = `“${shorten(event.data, SUMMARY_CHARACTERS)}”`;
    const frame = serverFrame(Opcode.Text, bytes);
    showFrame("in", frame, summary, echoBadge(Opcode.Text, bytes));
    return;
  }
  const bytes = new Uint8Array(event.data);
  const frame = serverFrame(Opcode.Binary, bytes);
  const summary = `${bytes.length.toLocaleString()} bytes`;
  showFrame("in", frame, summary, echoBadge(Opcode.Binary, bytes));
}

function onClose(event) {
  const code = event.code === 1005 ? undefined : event.code;
  if (event.code !== 1006) {
    const payload = closePayload(code, event.reason);
    const summary = closeDescription(payload);
    showFrame("in", serverFrame(Opcode.Close, payload), summary, {
      note: closeRequested
        ? "The server's answer: it echoes the code."
        : "The server started the close handshake.",
    });
    if (!closeRequested) {
      showFrame("out", clientFrame(Opcode.Close, payload), summary, {
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
  setStatus("closed", "closed");
  reconnectButton.hidden = false;
  socket = null;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/`;
  closeRequested = false;
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
    negotiatedExtensions = opened.extensions;
    const extensions = opened.extensions === "" ? "none" : opened.extensions;
    details.textContent =
      `${url} · subprotocol ${protocol} · extensions ${extensions}`;
    addEvent(
      `Connected to ${url} (the opening handshake is plain HTTP: ` +
        `GET with Upgrade: websocket, answered by 101).`,
    );
  };
  opened.onmessage = onMessage;
  opened.onerror = () => addEvent("The connection failed.", "bad");
  opened.onclose = onClose;
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
  showFrame("out", clientFrame(Opcode.Text, bytes), summary);
}

function sendBinary(size) {
  if (!requireOpen()) return;
  const bytes = randomBytes(size);
  socket.send(bytes);
  awaitingEcho.push({ opcode: Opcode.Binary, bytes });
  const summary = `${size.toLocaleString()} random bytes`;
  showFrame("out", clientFrame(Opcode.Binary, bytes), summary);
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
  showFrame("out", clientFrame(Opcode.Close, payload), summary);
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

reconnectButton.addEventListener("click", connect);

document.getElementById("clear").addEventListener("click", () => {
  frameList.replaceChildren();
  emptyNote.hidden = false;
});

connect();
