/**
 * A lean load connection: WebSocket frames written and parsed by hand over
 * a `node:net` socket (in Bun and Deno). It does per echo only what the
 * benchmark needs (find the frame, check the payload, queue the next
 * message), and sends every reply produced by one read in one write, so
 * the load client costs far less CPU per message than a full WebSocket
 * client and the server stays the bottleneck.
 *
 * The handshake is checked (101 and the `Sec-WebSocket-Accept` for the
 * fixed key below). Client frames are masked, as RFC 6455 requires, with a
 * random nonzero key per worker (the same for every frame: servers cannot
 * tell, and it lets frames be prepared once). Server pings are answered;
 * a close frame or a text frame ends the connection.
 *
 * @module
 */

import net from "node:net";
import { Buffer } from "node:buffer";
import { MessageFactory } from "./message.ts";
import type {
  LinkTarget,
  LoadConnection,
  LoadHost,
  OpenLink,
} from "./load_link.ts";

/** The key of RFC 6455 section 1.3's example, with its known answer. */
const HANDSHAKE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const HANDSHAKE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** The masking key, as bytes and as a little-endian word. */
const MASK = crypto.getRandomValues(new Uint8Array(4));
MASK[0] |= 1; // never all zero
const MASK_WORD = new DataView(MASK.buffer).getUint32(0, true);

/** Prepared masked frames, one per pattern offset, for one message size. */
class FrameFactory {
  readonly size: number;
  readonly frameLength: number;
  readonly #headerLength: number;
  readonly #frames: Uint8Array[] = [];
  readonly #views: DataView[] = [];
  readonly #messages: MessageFactory;

  constructor(size: number) {
    this.size = size;
    this.#messages = new MessageFactory(size);
    const lengthBytes = size < 126 ? 0 : size < 65536 ? 2 : 8;
    this.#headerLength = 2 + lengthBytes + 4;
    this.frameLength = this.#headerLength + size;
    for (let step = 0; step < 64; step++) {
      const frame = new Uint8Array(this.frameLength);
      const view = new DataView(frame.buffer);
      frame[0] = 0x82; // FIN, binary
      if (lengthBytes === 0) frame[1] = 0x80 | size;
      else if (lengthBytes === 2) {
        frame[1] = 0x80 | 126;
        view.setUint16(2, size);
      } else {
        frame[1] = 0x80 | 127;
        view.setBigUint64(2, BigInt(size));
      }
      frame.set(MASK, 2 + lengthBytes);
      // Message `step` has pattern offset `step`: take its body, masked.
      const body = this.#messages.make(0, step);
      for (let index = 0; index < size; index++) {
        frame[this.#headerLength + index] = body[index] ^ MASK[index & 3];
      }
      this.#frames.push(frame);
      this.#views.push(view);
    }
  }

  /** Writes the frame of message `sequence` of `connection` at `offset`. */
  write(
    target: Uint8Array,
    offset: number,
    connection: number,
    sequence: number,
  ): void {
    const step = sequence % 64;
    const view = this.#views[step];
    // Payload bytes 0-7 (sequence, connection) start at a multiple of 4,
    // so each masks with the whole key word.
    view.setUint32(this.#headerLength, (sequence ^ MASK_WORD) >>> 0, true);
    view.setUint32(
      this.#headerLength + 4,
      (connection ^ MASK_WORD) >>> 0,
      true,
    );
    target.set(this.#frames[step], offset);
  }
}

let frames: FrameFactory | null = null;

/** A masked control frame (pong) with a payload of at most 125 bytes. */
function controlFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  frame.set(MASK, 2);
  for (let index = 0; index < payload.length; index++) {
    frame[6 + index] = payload[index] ^ MASK[index & 3];
  }
  return frame;
}

/** Reassembles frames from the byte stream of one connection. */
class FrameReader {
  #pending: Uint8Array = new Uint8Array(0);
  #pendingLength = 0;
  #fragments: Uint8Array[] = [];

  readonly onMessage: (payload: Uint8Array) => void;
  readonly onControl: (opcode: number, payload: Uint8Array) => void;
  readonly onBad: (reason: string) => void;

  constructor(
    onMessage: (payload: Uint8Array) => void,
    onControl: (opcode: number, payload: Uint8Array) => void,
    onBad: (reason: string) => void,
  ) {
    this.onMessage = onMessage;
    this.onControl = onControl;
    this.onBad = onBad;
  }

  push(chunk: Uint8Array): void {
    if (this.#pendingLength === 0) {
      const used = this.#parse(chunk, chunk.length);
      this.#keep(chunk.subarray(used));
      return;
    }
    const needed = this.#pendingLength + chunk.length;
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(Math.max(needed, this.#pending.length * 2));
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(chunk, this.#pendingLength);
    this.#pendingLength = needed;
    const used = this.#parse(this.#pending, needed);
    this.#pending.copyWithin(0, used, needed);
    this.#pendingLength = needed - used;
  }

  #keep(rest: Uint8Array): void {
    if (rest.length === 0) return;
    if (rest.length > this.#pending.length) {
      this.#pending = new Uint8Array(Math.max(rest.length, 4096));
    }
    this.#pending.set(rest);
    this.#pendingLength = rest.length;
  }

  /** Handles every whole frame in `data[0, end)`; returns bytes used. */
  #parse(data: Uint8Array, end: number): number {
    let offset = 0;
    while (end - offset >= 2) {
      const first = data[offset];
      const second = data[offset + 1];
      let length = second & 0x7f;
      let header = 2;
      if (length === 126) {
        if (end - offset < 4) break;
        length = (data[offset + 2] << 8) | data[offset + 3];
        header = 4;
      } else if (length === 127) {
        if (end - offset < 10) break;
        length = 0;
        for (let index = 2; index < 10; index++) {
          length = length * 256 + data[offset + index];
        }
        header = 10;
      }
      if ((second & 0x80) !== 0) {
        this.onBad("masked server frame");
        return end;
      }
      if (end - offset < header + length) break;
      const payload = data.subarray(offset + header, offset + header + length);
      offset += header + length;
      this.#frame(first, payload);
    }
    return offset;
  }

  #frame(first: number, payload: Uint8Array): void {
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    if (opcode >= 8) return this.onControl(opcode, payload);
    if (opcode === 1) return this.onBad("text message");
    if (opcode === 2 && fin && this.#fragments.length === 0) {
      return this.onMessage(payload);
    }
    if ((opcode === 2) !== (this.#fragments.length === 0)) {
      return this.onBad("bad fragment sequence");
    }
    this.#fragments.push(payload.slice());
    if (!fin) return;
    const whole = Buffer.concat(this.#fragments);
    this.#fragments = [];
    this.onMessage(whole);
  }
}

function handshakeRequest(url: URL): string {
  return `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${HANDSHAKE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

function acceptsHandshake(head: string): boolean {
  if (!head.startsWith("HTTP/1.1 101")) return false;
  for (const line of head.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    if (line.slice(0, colon).trim().toLowerCase() !== "sec-websocket-accept") {
      continue;
    }
    return line.slice(colon + 1).trim() === HANDSHAKE_ACCEPT;
  }
  return false;
}

/** Opens `connection` over a raw TCP socket. */
export const openTcpLink: OpenLink = (
  link: LinkTarget,
  connection: LoadConnection,
  host: LoadHost,
  timeoutMs: number,
): Promise<boolean> => {
  if (frames === null || frames.size !== host.size) {
    frames = new FrameFactory(host.size);
  }
  const factory = frames;
  const target = new URL(link.url);
  const source = 1 + connection.index % link.sourceAddresses;
  return new Promise((resolve) => {
    const socket = net.connect({
      host: target.hostname,
      port: Number(target.port),
      localAddress: link.sourceAddresses > 1 ? `127.0.0.${source}` : undefined,
    });
    socket.setNoDelay(true);
    let settled = false;
    const settle = (open: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.open = open;
      resolve(open);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      settle(false);
    }, Math.max(1, timeoutMs));
    connection.close = () => socket.destroy();
    connection.sendMessages = (count) => {
      const batch = Buffer.allocUnsafe(count * factory.frameLength);
      const now = performance.now();
      for (let index = 0; index < count; index++) {
        const sequence = host.takeSequence(connection, now);
        factory.write(
          batch,
          index * factory.frameLength,
          connection.index,
          sequence,
        );
      }
      socket.write(batch);
    };
    let replies = 0;
    let now = 0;
    const reader = new FrameReader(
      (payload) => {
        replies += host.received(connection, payload, now);
      },
      (opcode, payload) => {
        if (opcode === 9) socket.write(controlFrame(10, payload));
        else if (opcode === 8) socket.destroy(); // counted as closed
      },
      (reason) => {
        host.refused(connection, reason);
        socket.destroy();
      },
    );
    let head = "";
    socket.on("connect", () => socket.write(handshakeRequest(target)));
    socket.on("data", (chunk: Uint8Array) => {
      if (!settled) {
        head += Buffer.from(chunk).toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        if (!acceptsHandshake(head.slice(0, end))) {
          socket.destroy();
          settle(false);
          return;
        }
        settle(true);
        const rest = Buffer.from(head.slice(end + 4), "latin1");
        if (rest.length === 0) return;
        chunk = rest;
      }
      now = performance.now();
      replies = 0;
      reader.push(chunk);
      if (replies > 0 && connection.open) connection.sendMessages(replies);
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (connection.open) host.closed(connection);
      connection.open = false;
      settle(false);
    });
  });
};
