/**
 * A test client on the runtime's own `WebSocket` (Deno's, not this
 * library's): messages are queued as they arrive and taken one at a time,
 * each wait bounded by a deadline. Used by the pub/sub and chat tests.
 *
 * @module
 */

import { withDeadline } from "../../interop/peers/bounded.ts";

/** How long one wait (open, a message, close) may take. */
export const CLIENT_STEP_TIMEOUT_MS = 5_000;

/** A JSON object as the chat server sends it. */
export type JsonMessage = Record<string, unknown>;

/** One connected client. */
export class TestClient {
  /** The runtime's socket. */
  readonly socket: WebSocket;
  /** Resolves with the close event, however the connection ends. */
  readonly closed: Promise<CloseEvent>;
  #received: Array<string | ArrayBuffer> = [];
  #waiting: Array<(message: string | ArrayBuffer | null) => void> = [];
  #ended = false;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      const waiter = this.#waiting.shift();
      if (waiter !== undefined) waiter(event.data);
      else this.#received.push(event.data);
    };
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        this.#ended = true;
        for (const waiter of this.#waiting.splice(0)) waiter(null);
        resolve(event);
      });
    });
  }

  /**
   * Connects and waits for "open".
   *
   * @param url the ws: URL
   * @returns the open client
   */
  static async open(url: string): Promise<TestClient> {
    const client = new TestClient(new WebSocket(url));
    const opened = new Promise<void>((resolve, reject) => {
      client.socket.addEventListener("open", () => resolve());
      client.closed.then((event) =>
        reject(new Error(`closed before opening: ${event.code}`))
      );
    });
    await withDeadline(opened, CLIENT_STEP_TIMEOUT_MS, `opening ${url}`);
    return client;
  }

  /**
   * The next message received.
   *
   * @returns its data (text as a string, binary as an ArrayBuffer)
   * @throws when the connection closes first or nothing comes in time
   */
  async next(): Promise<string | ArrayBuffer> {
    const queued = this.#received.shift();
    if (queued !== undefined) return queued;
    if (this.#ended) throw new Error("the connection is closed");
    const arrived = new Promise<string | ArrayBuffer | null>((resolve) =>
      this.#waiting.push(resolve)
    );
    const message = await withDeadline(
      arrived,
      CLIENT_STEP_TIMEOUT_MS,
      "waiting for a message",
    );
    if (message === null) throw new Error("the connection closed");
    return message;
  }

  /**
   * The next message, parsed as a JSON object.
   *
   * @returns the object
   */
  async nextJson(): Promise<JsonMessage> {
    const data = await this.next();
    if (typeof data !== "string") throw new Error("expected a text message");
    return JSON.parse(data);
  }

  /** Messages received and not taken yet. */
  get pending(): number {
    return this.#received.length;
  }

  /**
   * Sends text or bytes.
   *
   * @param data the message
   */
  send(data: string | Uint8Array): void {
    this.socket.send(data);
  }

  /**
   * Sends `value` as JSON.
   *
   * @param value anything JSON can encode
   */
  sendJson(value: unknown): void {
    this.socket.send(JSON.stringify(value));
  }

  /**
   * Waits for the connection to end, closed by the other side.
   *
   * @returns the close event
   * @throws when it is still open after the step timeout
   */
  ended(): Promise<CloseEvent> {
    return withDeadline(this.closed, CLIENT_STEP_TIMEOUT_MS, "the close");
  }

  /**
   * Closes (if still open) and waits for the close event.
   *
   * @param code the close code; default 1000
   * @returns the close event
   */
  close(code = 1000): Promise<CloseEvent> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(code);
    return withDeadline(this.closed, CLIENT_STEP_TIMEOUT_MS, "closing");
  }
}
