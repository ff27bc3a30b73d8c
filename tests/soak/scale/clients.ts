// Many WebSocket clients on raw TCP, light enough to run thousands from
// one process: each connects, upgrades, sends one text message and waits
// for its echo (then it counts as served), stays open answering pings, and
// on request runs the close handshake. Frames are built with encodeFrame
// and read with FrameDecoder; the handshake response is checked by hand.
import { encodeFrame } from "../../../frame/encoder.ts";
import { FrameDecoder } from "../../../frame/decoder.ts";
import { Opcode } from "../../../frame/types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A fixed, valid Sec-WebSocket-Key (RFC 6455 section 1.3). */
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** Bytes each client reads at a time. */
const READ_BUFFER_BYTES = 4096;

/** Where and how the clients connect. */
export interface ClientPlan {
  /** The server's port. */
  port: number;
  /**
   * Connect to 127.0.0.1 .. 127.0.0.`spread`, round robin, so that more
   * connections fit than one address pair has ephemeral ports (the server
   * must then listen on 0.0.0.0). Default 1.
   */
  spread?: number;
}

/** How one client fared. */
export type SessionOutcome = "served" | string;

/** One client connection. */
export class EchoSession {
  readonly index: number;
  #conn: Deno.Conn | null = null;
  readonly #frames = new FrameDecoder({ expectMasked: false });
  readonly #buffer = new Uint8Array(READ_BUFFER_BYTES);
  /** Settles when the connection ended (server close and end of TCP). */
  #ended: Promise<string> | null = null;
  #closeSent = false;

  constructor(index: number) {
    this.index = index;
  }

  /**
   * Connects, upgrades and echoes one message.
   *
   * @returns "served", or why not
   */
  async open(plan: ClientPlan): Promise<SessionOutcome> {
    const spread = plan.spread ?? 1;
    const hostname = `127.0.0.${1 + (this.index % spread)}`;
    try {
      this.#conn = await Deno.connect({ hostname, port: plan.port });
    } catch (error) {
      return `connect: ${(error as Error).name}`;
    }
    try {
      const head = `GET /scale-${this.index} HTTP/1.1\r\nHost: scale\r\n` +
        "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
      await this.#write(encoder.encode(head));
      const status = await this.#readHead();
      if (status !== 101) return `status ${status}`;
      const message = `hello from client ${this.index}`;
      await this.#write(
        encodeFrame(Opcode.Text, encoder.encode(message), { mask: true }),
      );
      while (true) {
        const frame = await this.#nextFrame();
        if (frame === null) return "ended before the echo";
        if (frame.opcode === Opcode.Ping) {
          await this.#pong(frame.payload);
          continue;
        }
        if (frame.opcode !== Opcode.Text) return `opcode ${frame.opcode}`;
        if (decoder.decode(frame.payload) !== message) return "wrong echo";
        break;
      }
      this.#ended = this.#watch();
      return "served";
    } catch (error) {
      this.#closeQuietly();
      return `error: ${(error as Error).name}`;
    }
  }

  /**
   * Sends a close frame (1000) and waits for the server's close and the
   * end of TCP.
   *
   * @returns "clean", or what happened instead
   */
  async close(): Promise<string> {
    if (this.#ended === null) {
      this.#closeQuietly();
      return "not open";
    }
    if (!this.#closeSent) {
      this.#closeSent = true;
      try {
        await this.#write(closeFrame());
      } catch (error) {
        this.#closeQuietly();
        return `close write: ${(error as Error).name}`;
      }
    }
    return await this.#ended;
  }

  /** Drops the connection (cleanup after a failure). */
  abort(): void {
    this.#closeQuietly();
  }

  /** Answers pings until the server's close frame and the end of TCP. */
  async #watch(): Promise<string> {
    let outcome = "ended without a close frame";
    try {
      while (true) {
        const frame = await this.#nextFrame();
        if (frame === null) break;
        if (frame.opcode === Opcode.Ping) await this.#pong(frame.payload);
        else if (frame.opcode === Opcode.Close) {
          const code = (frame.payload[0] << 8) | frame.payload[1];
          outcome = code === 1000 ? "clean" : `close ${code}`;
          if (!this.#closeSent) {
            this.#closeSent = true;
            await this.#write(closeFrame(code));
          }
        }
      }
    } catch (error) {
      outcome = `error: ${(error as Error).name}`;
    } finally {
      this.#closeQuietly();
    }
    return outcome;
  }

  async #pong(payload: Uint8Array): Promise<void> {
    if (this.#closeSent) return;
    await this.#write(encodeFrame(Opcode.Pong, payload, { mask: true }));
  }

  /** Reads the response head; returns its status, keeps what follows. */
  async #readHead(): Promise<number> {
    let received = new Uint8Array(0);
    while (true) {
      const end = findHeadEnd(received);
      if (end !== -1) {
        const statusLine = decoder.decode(received.subarray(0, 12));
        this.#frames.push(received.slice(end + 4));
        return Number(statusLine.slice(9, 12));
      }
      const count = await this.#conn!.read(this.#buffer);
      if (count === null) return 0;
      const joined = new Uint8Array(received.length + count);
      joined.set(received);
      joined.set(this.#buffer.subarray(0, count), received.length);
      received = joined;
    }
  }

  async #nextFrame() {
    while (true) {
      const frame = this.#frames.next();
      if (frame !== undefined) return frame;
      const count = await this.#conn!.read(this.#buffer);
      if (count === null) return null;
      this.#frames.push(this.#buffer.slice(0, count));
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#conn!.write(bytes.subarray(offset));
    }
  }

  #closeQuietly(): void {
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
  }
}

function closeFrame(code = 1000): Uint8Array {
  return encodeFrame(Opcode.Close, new Uint8Array([code >> 8, code & 0xff]), {
    mask: true,
  });
}

function findHeadEnd(bytes: Uint8Array): number {
  for (let index = 0; index + 3 < bytes.length; index++) {
    if (
      bytes[index] === 13 && bytes[index + 1] === 10 &&
      bytes[index + 2] === 13 && bytes[index + 3] === 10
    ) return index;
  }
  return -1;
}

/** What {@linkcode openSessions} did. */
export interface OpenResult {
  /** Every session, served or not. */
  sessions: EchoSession[];
  /** How many echoed their message. */
  served: number;
  /** The other outcomes, counted. */
  failures: Map<string, number>;
}

/**
 * Opens `count` clients, at most `concurrency` handshakes at a time, each
 * echoing one message; every client that was served stays open.
 */
export async function openSessions(
  plan: ClientPlan,
  count: number,
  concurrency: number,
): Promise<OpenResult> {
  const sessions: EchoSession[] = [];
  const failures = new Map<string, number>();
  let served = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const session = new EchoSession(next++);
      sessions.push(session);
      const outcome = await session.open(plan);
      if (outcome === "served") served++;
      else failures.set(outcome, (failures.get(outcome) ?? 0) + 1);
    }
  };
  const workers = [];
  for (let index = 0; index < Math.min(concurrency, count); index++) {
    workers.push(worker());
  }
  await Promise.all(workers);
  return { sessions, served, failures };
}

/**
 * Closes every session (close handshake), at most `concurrency` at a time.
 *
 * @returns the outcomes, counted ("clean" for a clean close)
 */
export async function closeSessions(
  sessions: readonly EchoSession[],
  concurrency: number,
): Promise<Map<string, number>> {
  const outcomes = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < sessions.length) {
      const outcome = await sessions[next++].close();
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  };
  const workers = [];
  for (let index = 0; index < Math.min(concurrency, sessions.length); index++) {
    workers.push(worker());
  }
  await Promise.all(workers);
  return outcomes;
}
