// One frame card of the echo page: the byte strip, the bits of bytes 0 and
// 1, and every field with why it has its value. app.js decides what to
// rebuild; this module only draws it. Everything shown is set with
// textContent, never parsed as HTML.

import {
  DEFLATE_TAIL,
  describeFrame,
  ECHO_SERVER_COMPRESSION_THRESHOLD,
  Opcode,
  toBits,
  toHex,
} from "./codec.js";

/** Payload bytes drawn in the byte strip; the rest are counted. */
const STRIP_PAYLOAD_BYTES = 24;
/** Payload bytes written out in hex in the fields; the rest are counted. */
const HEX_PREVIEW_BYTES = 32;
/** Bytes of a text message read out in the "meaning" field. */
const MEANING_PREVIEW_BYTES = 160;

const decoder = new TextDecoder();

/** A new element with a class and text (never HTML). */
export function element(tag, className, text) {
  const created = document.createElement(tag);
  if (className) created.className = className;
  if (text !== undefined) created.textContent = text;
  return created;
}

/** What a close payload says, in words. */
export function closeDescription(payload) {
  if (payload.length < 2) return "no code (empty payload)";
  const code = (payload[0] << 8) | payload[1];
  const reason = decoder.decode(payload.subarray(2));
  return reason === "" ? `code ${code}` : `code ${code}, reason “${reason}”`;
}

/** How a message (or a control frame's payload) reads, by opcode. */
function meaning(opcode, bytes) {
  if (opcode === Opcode.Text) {
    const cut = bytes.length > MEANING_PREVIEW_BYTES ? "…" : "";
    const shown = bytes.subarray(0, MEANING_PREVIEW_BYTES);
    return `“${decoder.decode(shown)}${cut}”`;
  }
  if (opcode === Opcode.Close) return closeDescription(bytes);
  if (opcode === Opcode.Ping || opcode === Opcode.Pong) {
    return `“${decoder.decode(bytes)}”`;
  }
  return `${bytes.length.toLocaleString()} bytes of binary data`;
}

function hexPreview(bytes) {
  const shown = bytes.subarray(0, HEX_PREVIEW_BYTES);
  return hexWithRest(shown, bytes.length - shown.length);
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

function payloadCaption(view) {
  if (view.rsv1) {
    return view.masked ? "payload (deflated, masked)" : "payload (deflated)";
  }
  return view.masked ? "payload (masked)" : "payload";
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
      payloadCaption(view),
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

/** Why RSV1 is set or clear. `compression` is a data message's
 * (clientMessageFrame / serverMessageFrame), or "control". */
function rsvWhy(view, compression, outgoing) {
  if (view.rsv1) {
    return outgoing
      ? "RSV1 = 1: compressed; your browser compresses every message"
      : "RSV1 = 1: compressed, at least " +
        `${ECHO_SERVER_COMPRESSION_THRESHOLD.toLocaleString()} bytes, ` +
        "with context takeover";
  }
  switch (compression) {
    case "below-threshold":
      return "RSV1 = 0: under the server's " +
        `${ECHO_SERVER_COMPRESSION_THRESHOLD.toLocaleString()}-byte ` +
        "threshold, sent as is";
    case "control":
      return "RSV1 = 0: control frames are never compressed";
    default:
      return "reserved for extensions; none negotiated";
  }
}

function renderFields(list, view, rebuilt, outgoing) {
  const opcodeHex = `0x${view.opcode.toString(16)}`;
  const compressed = view.rsv1;
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
    rsvWhy(view, rebuilt.compression, outgoing),
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
  const sentAs = compressed ? "compressed, then " : "";
  addField(
    list,
    "wire-payload",
    "part-payload",
    "payload on the wire",
    hexWithRest(view.wirePayload, view.omittedBytes),
    view.masked
      ? `${sentAs}byte i XOR key[i mod 4]`
      : compressed
      ? "compressed, sent as is"
      : "sent as is",
  );
  addField(
    list,
    "payload-hex",
    "part-payload",
    compressed ? "compressed payload" : "payload unmasked",
    hexWithRest(view.payload, view.omittedBytes),
    compressed
      ? `raw DEFLATE, ${view.masked ? "unmasked by FrameDecoder" : "as sent"}`
      : view.masked
      ? "what FrameDecoder gives back"
      : "the same bytes",
  );
  if (compressed) {
    addField(
      list,
      "inflated",
      "part-payload",
      "inflated",
      hexPreview(rebuilt.message),
      `${toHex(DEFLATE_TAIL)} appended, then inflated: ` +
        `${rebuilt.message.length.toLocaleString()} bytes`,
    );
  }
  addField(
    list,
    "payload-text",
    "part-payload",
    "meaning",
    meaning(view.opcode, rebuilt.message),
    `as ${view.opcodeName}`,
  );
}

/** A note on a compressed frame: whose bytes these are. */
function compressionNote(outgoing, messageLength) {
  if (outgoing) {
    return "Your browser compressed this message with its own zlib, so the " +
      "bytes it sent differ from these; the shape is the same: RSV1 = 1, " +
      "raw DEFLATE with the 00 00 ff ff tail cut off, masked.";
  }
  return `The server compressed this message: ` +
    `${messageLength.toLocaleString()} bytes is at least its ` +
    `${ECHO_SERVER_COMPRESSION_THRESHOLD.toLocaleString()}-byte threshold ` +
    "and deflating made it smaller. Deflated again here, so the bytes " +
    "differ from the server's; the shape is the same.";
}

/**
 * Builds the card of one rebuilt frame from the page's template.
 *
 * @param {HTMLTemplateElement} template the page's #frame-template
 * @param {"out" | "in"} direction who sent it
 * @param {{ wire: Uint8Array, compression: string, message: Uint8Array }}
 *   rebuilt the frame's bytes, whether it was compressed (or "control"), and
 *   the message or control payload it carries
 * @param {string} summary a short description of the message
 * @param {{ badge?: string, tone?: string, note?: string }} extra
 * @returns {HTMLLIElement} the card, not yet on the page
 */
export function buildFrameCard(
  template,
  direction,
  rebuilt,
  summary,
  extra = {},
) {
  const view = describeFrame(rebuilt.wire, HEX_PREVIEW_BYTES);
  const item = template.content.firstElementChild.cloneNode(true);
  const outgoing = direction === "out";
  item.dataset.direction = direction;
  item.dataset.opcode = view.opcodeName;
  item.querySelector(".direction").textContent = outgoing
    ? "browser → server"
    : "server → browser";
  item.querySelector(".kind").textContent = view.opcodeName;
  const sizes = [`${view.frameLength.toLocaleString()} bytes on the wire`];
  if (view.rsv1) {
    const before = rebuilt.message.length.toLocaleString();
    const after = view.payloadLength.toLocaleString();
    sizes.unshift(`${before} bytes deflated to ${after}`);
    item.querySelector(".deflated").hidden = false;
  }
  item.querySelector(".summary").textContent = [summary, ...sizes].join(" · ");
  if (extra.badge !== undefined) {
    const badge = item.querySelector(".badge");
    badge.hidden = false;
    badge.textContent = extra.badge;
    badge.dataset.tone = extra.tone ?? "info";
  }
  renderWire(item.querySelector(".wire"), view);
  renderBits(item.querySelector(".bits"), view);
  renderFields(item.querySelector(".fields"), view, rebuilt, outgoing);
  const notes = [];
  if (extra.note !== undefined) notes.push(extra.note);
  if (view.rsv1) {
    notes.push(compressionNote(outgoing, rebuilt.message.length));
  }
  for (const note of notes) item.append(element("p", "note", note));
  return item;
}
